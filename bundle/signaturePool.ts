/**
 * secp256k1 off the node's JavaScript thread (issue 14): a small pool of worker threads that
 * implements core's `SignatureWork` (PoP recovery, the stand-in's signing). Each derive held
 * the one JS thread for about 5 ms, 2 ms of it secp256k1, and every request queued behind
 * that; with the pool the main thread keeps HTTP, routing and the rest, and the curve math
 * runs beside it.
 *
 * One bundle: the workers run `dist/kms.mjs` itself (`workerUrl`). bundle/worker.ts sees a
 * Node entry point and calls `startNodeServer`, which finds {@link SIGNATURE_WORKER_DATA} in
 * `workerData` and serves jobs ({@link serveSignatureJobs}) instead of HTTP.
 *
 * Bounded and failure-contained:
 * - at most `maxQueuedPerWorker` jobs wait on a worker; beyond that, and while no worker is
 *   ready (boot, a replacement starting), the job runs inline, as without the pool. Inline
 *   rather than 503: the work has to be done somewhere and inline is exactly the node's old
 *   behaviour, so the pool never turns a burst the node could serve into refusals; overload
 *   itself is refused earlier, by MAX_CONCURRENT_REQUESTS (503) and the limiters;
 * - a worker that exits or crashes fails its in-flight jobs with 503 `service_unavailable`
 *   (the request is retryable, never a 500) and is replaced; one that dies before it ever
 *   became ready is replaced after {@link RESPAWN_DELAY_MS}, so a broken start cannot spin;
 * - messages carry strings and bytes only; errors come back as code, message and details and
 *   are rebuilt as the same `KmsError`, so a bad signature gets the inline 403 body exactly.
 *
 * Node only: `node:worker_threads` is reached through `process.getBuiltinModule`, never a
 * static import, which esbuild would hoist to the top of the one bundle that Miniflare loads
 * (DESIGN §4). Miniflare keeps the inline default.
 */
import type { Worker } from 'node:worker_threads'
import { inlineSignatureWork, signMessageWithKey, threadKnownSigners, type SignatureWork } from '../core/crypto'
import type { Wallet } from '../core/encoding'
import { ERROR_STATUS, KmsError, type ErrorCode } from '../core/errors'

/** The `workerData` that makes a thread of `dist/kms.mjs` a signature worker. */
export const SIGNATURE_WORKER_DATA = 'nova-kms-signature-worker'

/**
 * Jobs that may wait on one worker. A recovery takes about 1.4 ms, so 32 queued is about
 * 45 ms of work: past that the main thread helps rather than letting the queue grow.
 */
export const MAX_QUEUED_PER_WORKER = 32

/**
 * How long before a worker that died before it was ready is started again; doubled for each
 * such death in a row, up to {@link MAX_RESPAWN_DELAY_MS}, so a start that cannot work
 * (a wrong `workerUrl`) neither spins nor floods the log. Jobs run inline meanwhile.
 */
export const RESPAWN_DELAY_MS = 1000
export const MAX_RESPAWN_DELAY_MS = 60_000

/** The most workers `KMS_NODE_CRYPTO_WORKERS` may ask for. */
export const MAX_CRYPTO_WORKERS = 16

type JobBody = { op: 'recover'; message: string; signature: string; expected: Wallet | undefined } | { op: 'sign'; message: string; privateKey: Uint8Array }

type Job = JobBody & { id: number }

type Answer = { id: number; value: string } | { id: number; code: string; message: string; details: string }

/** Below this many cores the pool is off unless asked for. */
export const MIN_CORES_FOR_DEFAULT_POOL = 4

/**
 * `KMS_NODE_CRYPTO_WORKERS`: 0 runs the work inline. Unset: on 4 or more cores one worker per
 * core but one (the main thread keeps that core), at most 4; on fewer, inline. On 2 cores the
 * bench measured a one-worker pool at 15% less derive capacity and 16% more process CPU per
 * derive than inline, with the same p99/p50 (README "Performance"): the worker and the main
 * thread then only compete for the same cores.
 * @throws Error naming the variable for anything but an integer 0…{@link MAX_CRYPTO_WORKERS}.
 */
export function cryptoWorkerCount(value: string | undefined, availableParallelism: number): number {
  const text = value?.trim() ?? ''
  if (text === '') return availableParallelism < MIN_CORES_FOR_DEFAULT_POOL ? 0 : Math.min(4, availableParallelism - 1)
  if (!/^\d{1,2}$/.test(text) || Number(text) > MAX_CRYPTO_WORKERS) {
    throw new Error(`KMS_NODE_CRYPTO_WORKERS must be an integer from 0 to ${MAX_CRYPTO_WORKERS}`)
  }
  return Number(text)
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, code)
}

/** The worker's answer as the inline call would have ended: a value, or the same error. */
function settle(answer: Answer): { value: string } | { error: Error } {
  if ('value' in answer) return { value: answer.value }
  // A KmsError keeps its code and message (the 403 bodies of §3.1.2); anything else was a
  // bug the inline code would have thrown too, and stays a plain Error.
  if (isErrorCode(answer.code)) return { error: new KmsError(answer.code, answer.message, { details: answer.details }) }
  return { error: new Error(answer.message) }
}

/** The worker side: answers jobs one at a time with the inline code. */
export function serveSignatureJobs(port: { on(event: 'message', listener: (job: Job) => void): unknown; postMessage(answer: Answer | 'ready'): void }): void {
  port.on('message', (job) => {
    let answer: Answer
    try {
      const value =
        job.op === 'recover' ? threadKnownSigners.recover(job.message, job.signature, job.expected) : signMessageWithKey(job.privateKey, job.message)
      answer = { id: job.id, value }
    } catch (error) {
      answer =
        error instanceof KmsError
          ? { id: job.id, code: error.code, message: error.message, details: error.details ?? '' }
          : { id: job.id, code: 'bug', message: error instanceof Error ? error.message : String(error), details: '' }
    }
    port.postMessage(answer)
  })
  port.postMessage('ready')
}

interface Pending {
  resolve(value: string): void
  reject(error: Error): void
}

interface Slot {
  worker: Worker
  ready: boolean
  pending: Map<number, Pending>
}

export interface SignaturePoolOptions {
  /** Worker threads, at least 1. */
  size: number
  /** The script every worker runs: `dist/kms.mjs` itself. */
  workerUrl: URL
  maxQueuedPerWorker?: number
  /** Told when a worker ends other than by `close()` (for the node's log). */
  onWorkerExit?: (details: { threadId: number; exitCode: number; error: string | undefined; failedJobs: number }) => void
}

export interface SignaturePool extends SignatureWork {
  /** The live workers (tests stop one to see it replaced). */
  readonly threads: readonly Worker[]
  /** Workers that have started and take jobs. */
  readonly readyWorkers: number
  /** Jobs that ran inline because no worker was ready or every queue was full. */
  readonly inlineJobs: number
  /** Stops every worker; later jobs run inline. */
  close(): Promise<void>
}

function workerUnavailable(details: string): KmsError {
  return new KmsError('service_unavailable', 'Signature worker unavailable', { details })
}

/**
 * Starts `size` workers. The wallet key handed to `signMessage` is posted to a worker thread
 * of this same process: it stays in this process's memory (the same enclave), as it does
 * inline, and is never written anywhere.
 */
export function createSignaturePool(options: SignaturePoolOptions): SignaturePool {
  if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('size: expected an integer ≥ 1')
  const { Worker: WorkerThread } = process.getBuiltinModule('node:worker_threads')
  const maxQueued = options.maxQueuedPerWorker ?? MAX_QUEUED_PER_WORKER
  const slots = new Set<Slot>()
  const respawns = new Set<NodeJS.Timeout>()
  let nextId = 0
  let inlineJobs = 0
  let closed = false
  let failedStarts = 0

  const start = (): void => {
    // No preloads or profilers of the main thread's command line (the bench's loop probe,
    // --cpu-prof): they are there for the main thread.
    const worker = new WorkerThread(options.workerUrl, { workerData: SIGNATURE_WORKER_DATA, execArgv: [] })
    // The pool never keeps the process alive by itself: the server does.
    worker.unref()
    const { threadId } = worker // -1 once it has exited
    const slot: Slot = { worker, ready: false, pending: new Map() }
    slots.add(slot)
    let failure: string | undefined
    worker.on('message', (message: Answer | 'ready') => {
      if (message === 'ready') {
        slot.ready = true
        failedStarts = 0
        return
      }
      const pending = slot.pending.get(message.id)
      if (pending === undefined) return
      slot.pending.delete(message.id)
      const outcome = settle(message)
      if ('value' in outcome) pending.resolve(outcome.value)
      else pending.reject(outcome.error)
    })
    worker.on('error', (error) => (failure = error instanceof Error ? error.message : String(error)))
    worker.on('messageerror', (error) => (failure = error.message))
    worker.once('exit', (exitCode) => {
      slots.delete(slot)
      const details = `signature worker ${threadId} exited with ${exitCode}${failure === undefined ? '' : `: ${failure}`}`
      for (const pending of slot.pending.values()) pending.reject(workerUnavailable(details))
      const failedJobs = slot.pending.size
      slot.pending.clear()
      if (closed) return
      options.onWorkerExit?.({ threadId, exitCode, error: failure, failedJobs })
      if (slot.ready) return start()
      const delay = Math.min(MAX_RESPAWN_DELAY_MS, RESPAWN_DELAY_MS * 2 ** failedStarts++)
      const timer = setTimeout(() => {
        respawns.delete(timer)
        if (!closed) start()
      }, delay)
      timer.unref()
      respawns.add(timer)
    })
  }
  for (let index = 0; index < options.size; index++) start()

  /** The ready worker with the shortest queue, unless every queue is full. */
  const pick = (): Slot | undefined => {
    let best: Slot | undefined
    for (const slot of slots) {
      if (slot.ready && slot.pending.size < maxQueued && (best === undefined || slot.pending.size < best.pending.size)) best = slot
    }
    return best
  }

  const run = (job: JobBody, inline: () => Promise<string>): Promise<string> => {
    const slot = pick()
    if (slot === undefined) {
      inlineJobs++
      return inline()
    }
    const id = nextId++
    return new Promise<string>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject })
      const message: Job = { ...job, id }
      slot.worker.postMessage(message)
    })
  }

  return {
    get threads() {
      return [...slots].map((slot) => slot.worker)
    },
    get readyWorkers() {
      return [...slots].filter((slot) => slot.ready).length
    },
    get inlineJobs() {
      return inlineJobs
    },
    async recoverMessageSigner(message, signature, expected) {
      const value = await run({ op: 'recover', message, signature, expected }, () => inlineSignatureWork.recoverMessageSigner(message, signature, expected))
      return value as Wallet
    },
    async signMessage(privateKey, message) {
      const value = await run({ op: 'sign', message, privateKey }, () => inlineSignatureWork.signMessage(privateKey, message))
      return value as `0x${string}`
    },
    async close() {
      closed = true
      for (const timer of respawns) clearTimeout(timer)
      respawns.clear()
      await Promise.all([...slots].map((slot) => slot.worker.terminate()))
    },
  }
}
