/**
 * Load generation against one node: SDK clients whose fetch records how long each round trip
 * took (/nonce apart from the call itself), and closed-loop rounds that report the median
 * rate together with the CPU each side spent per request.
 */
import type { KmsClient } from '../core/client'
import type { DevChain } from '../test/helpers/devChain'
import { clientFor, registerTestApp, type TestApp } from '../test/helpers/kmsNodes'
import { log, median, processCpuMs, round, selfCpuMs, threadCpuMs } from './_harness'
import type { BenchNode } from './_nodes'

/** A request that hangs must not hang the bench. */
const REQUEST_TIMEOUT_MS = 10_000

/** Round-trip times, in ms, split by what the client was waiting for. */
export interface RoundTrips {
  nonce: number[]
  call: number[]
}

export function emptyRoundTrips(): RoundTrips {
  return { nonce: [], call: [] }
}

/**
 * A fetch that times each exchange, body included (the SDK reads the body after fetch
 * resolves, so timing only to the headers would leave the body out).
 */
function timedFetch(trips: () => RoundTrips): typeof fetch {
  return async (input, init) => {
    const started = performance.now()
    const response = await fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    const body = await response.arrayBuffer()
    const elapsed = performance.now() - started
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const bucket = trips()
    ;(new URL(url).pathname === '/nonce' ? bucket.nonce : bucket.call).push(elapsed)
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
  }
}

export interface BenchApp {
  app: TestApp
  /** A client of `node` whose round trips go to `trips()`. */
  client(node: BenchNode, trips: () => RoundTrips): Promise<KmsClient>
}

/** Registers a test app (its own wallet and P-384 key) on the dev chain. */
export async function registerBenchApp(chain: DevChain): Promise<BenchApp> {
  const app = await registerTestApp(chain)
  return {
    app,
    // The node identity comes from /status here only because the bench registered it itself.
    client: (node, trips) => clientFor(node, { walletKey: app.walletKey, teeKey: app.teeKey, fetch: timedFetch(trips) }),
  }
}

export interface ClosedLoopOptions {
  label: string
  node: BenchNode
  /** Concurrent workers, each with one request in flight. */
  concurrency: number
  rounds: number
  roundMs: number
  /** An unmeasured first round: JIT, connection pools, caches. */
  warmupMs: number
  /** One request; `worker` and `sequence` let it pick distinct keys. */
  operation(worker: number, sequence: number): Promise<unknown>
  trips: { current: RoundTrips }
}

export interface ClosedLoopResult {
  requests_per_second: number
  rounds_requests_per_second: number[]
  /** CPU the node process spent per request (all its threads: libuv's pool and the secp256k1 workers too). */
  node_cpu_ms_per_request: number
  /** CPU the node's main (JavaScript) thread spent per request: what requests queue on. */
  node_main_thread_cpu_ms_per_request: number
  /** CPU this bench process (the clients) spent per request. */
  client_cpu_ms_per_request: number
  /** Median round trip of the /nonce fetch and of the call itself, under this load. */
  nonce_round_trip_ms: number
  call_round_trip_ms: number
  errors: number
  concurrency: number
}

interface RoundMeasure {
  rate: number
  nodeCpuPerRequest: number
  nodeMainThreadCpuPerRequest: number
  clientCpuPerRequest: number
  errors: number
  trips: RoundTrips
}

/** Runs `operation` from `concurrency` workers until a deadline; each worker stops after its in-flight request. */
async function runRound(options: ClosedLoopOptions, durationMs: number, sequenceStart: { value: number }): Promise<RoundMeasure> {
  options.trips.current = emptyRoundTrips()
  let completed = 0
  let errors = 0
  let firstError: unknown
  const nodeCpuBefore = processCpuMs(options.node.pid)
  const nodeMainThreadCpuBefore = threadCpuMs(options.node.pid)
  const clientCpuBefore = selfCpuMs()
  const started = performance.now()
  const deadline = started + durationMs
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const sequence = sequenceStart.value++
        try {
          await options.operation(worker, sequence)
          completed++
        } catch (error) {
          errors++
          firstError ??= error
        }
      }
    }),
  )
  const elapsed = performance.now() - started
  if (firstError !== undefined) log(`${options.label}: ${errors} errors, first: ${String(firstError)}`)
  const perRequest = (cpu: number): number => (completed === 0 ? Number.NaN : cpu / completed)
  return {
    rate: (completed * 1000) / elapsed,
    nodeCpuPerRequest: perRequest(processCpuMs(options.node.pid) - nodeCpuBefore),
    nodeMainThreadCpuPerRequest: perRequest(threadCpuMs(options.node.pid) - nodeMainThreadCpuBefore),
    clientCpuPerRequest: perRequest(selfCpuMs() - clientCpuBefore),
    errors,
    trips: options.trips.current,
  }
}

/** A warm-up round, then `rounds` measured rounds; every figure is the median over rounds. */
export async function closedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const sequence = { value: 0 }
  await runRound(options, options.warmupMs, sequence)
  const measured: RoundMeasure[] = []
  for (let index = 0; index < options.rounds; index++) measured.push(await runRound(options, options.roundMs, sequence))
  const result: ClosedLoopResult = {
    requests_per_second: round(median(measured.map((m) => m.rate))),
    rounds_requests_per_second: measured.map((m) => round(m.rate)),
    node_cpu_ms_per_request: round(median(measured.map((m) => m.nodeCpuPerRequest)), 3),
    node_main_thread_cpu_ms_per_request: round(median(measured.map((m) => m.nodeMainThreadCpuPerRequest)), 3),
    client_cpu_ms_per_request: round(median(measured.map((m) => m.clientCpuPerRequest)), 3),
    nonce_round_trip_ms: round(median(measured.map((m) => median(m.trips.nonce))), 2),
    call_round_trip_ms: round(median(measured.map((m) => median(m.trips.call))), 2),
    errors: measured.reduce((sum, m) => sum + m.errors, 0),
    concurrency: options.concurrency,
  }
  log(`${options.label}: ${result.requests_per_second} req/s (rounds ${result.rounds_requests_per_second.join(', ')})`)
  return result
}
