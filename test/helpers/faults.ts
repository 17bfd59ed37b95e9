/**
 * Shared plumbing of the fault suites (test/faults, issue 14): `node dist/kms.mjs` processes
 * on loopback with their PID and a SIGKILL, a TCP proxy that a test can cut and restore, SDK
 * calls that are always bounded in time, the tally every suite prints as its one summary
 * line, and the kernel's figures for a process (`/proc/<pid>`).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { KmsClientError, type KmsClient } from '../../core/client'
import { hasExited, LOOPBACK, signal, spawnKmsNode } from '../../bundle/processes'
import type { DevChain } from './devChain'
import { assertBundleBuilt, BUNDLE_PATH, clientFor, nodeEnvironment, type NodeStatus, type TestApp, type TestNode } from './kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))

/**
 * What every fault-suite node runs with: ticks every second, a peer cache that goes stale 3 s
 * after its last refresh (PEER_CACHE_TTL_SECONDS must exceed the tick), and the per-client,
 * per-app and node-wide nonce limits raised (not disabled), since all traffic comes from one
 * loopback client.
 */
export const FAULT_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'WARN',
  KMS_NODE_TICK_SECONDS: '1',
  DATA_SYNC_INTERVAL_SECONDS: '1',
  PEER_CACHE_TTL_SECONDS: '3',
  RATE_LIMIT_PER_MINUTE: '100000000',
  NONCE_RATE_LIMIT_PER_MINUTE: '100000000',
  NODE_NONCE_RATE_LIMIT_PER_MINUTE: '100000000',
  APP_RATE_LIMIT_PER_MINUTE: '100000000',
}

/** The preload that lets a test move a node process's wall clock (test/helpers/skewClock.mjs). */
export const SKEW_CLOCK_PRELOAD = fileURLToPath(new URL('./skewClock.mjs', import.meta.url))

export interface FaultNode extends TestNode {
  pid: number
  child: ChildProcess
  /** Every line the node wrote to stderr (its WARN and ERROR log lines), kept whole. */
  readonly stderrLines: string[]
  /** SIGKILL by PID; resolves once the process has exited. */
  kill(): Promise<void>
  /** Sends a message on the IPC channel (only with `ipc: true`). */
  send(message: unknown): Promise<unknown>
}

export interface FaultNodeOptions {
  nodeArgs?: string[]
  ipc?: boolean
  /** Extra environment for the preload (not read by the node). */
  preloadEnv?: Record<string, string>
  /** The port to bind (a restarted node keeps its registered URL); default a free one. */
  port?: number
}

/** `node [nodeArgs] dist/kms.mjs` on a free loopback port, with FAULT_ENV under `overrides`. */
export async function startFaultNode(chain: DevChain, overrides: Record<string, string> = {}, options: FaultNodeOptions = {}): Promise<FaultNode> {
  assertBundleBuilt()
  const stderrLines: string[] = []
  const spawned = await spawnKmsNode({
    env: { ...nodeEnvironment(chain, { ...FAULT_ENV, ...overrides }), ...options.preloadEnv },
    cwd: ROOT,
    bundlePath: BUNDLE_PATH,
    ...(options.port === undefined ? {} : { port: options.port }),
    nodeArgs: options.nodeArgs ?? [],
    ipc: options.ipc === true,
    onOutput: (line, stream) => {
      // Bounded: a node that logs a warning per tick writes a few hundred lines per suite.
      if (stream === 'stderr' && stderrLines.length < 20_000) stderrLines.push(line)
    },
  })
  const { child } = spawned
  const fetcher = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`${spawned.url}${path}`, { ...init, signal: init?.signal ?? AbortSignal.timeout(20_000) })
  return {
    kind: 'process',
    pid: spawned.pid,
    child,
    url: spawned.url,
    stderrLines,
    fetch: fetcher,
    tick: async () => undefined,
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: spawned.stop,
    async kill() {
      if (hasExited(child)) return
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      signal(spawned.pid, 'SIGKILL')
      await exited
    },
    send(message) {
      return new Promise((resolve, reject) => {
        if (child.send === undefined) return reject(new Error('no IPC channel'))
        child.once('message', resolve)
        child.send(message as never, (error) => error && reject(error))
      })
    },
  }
}

/**
 * A TCP proxy on loopback in front of `targetPort` (the chain RPC): `cut()` closes the
 * listener and every connection, so the nodes see a dead RPC (connection refused) while the
 * chain behind it keeps its state; `restore()` listens again on the same port.
 */
export interface TcpProxy {
  url: string
  port: number
  readonly cutNow: boolean
  /** Connections accepted so far. */
  accepted: number
  cut(): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0
  let cutNow = false
  const proxy: TcpProxy = {
    url: '',
    port: 0,
    get cutNow() {
      return cutNow
    },
    accepted: 0,
    async cut() {
      cutNow = true
      await stopListening()
    },
    async restore() {
      cutNow = false
      await listen()
    },
    async close() {
      cutNow = true
      await stopListening()
    },
  }
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      proxy.accepted++
      track(client)
      const upstream = connect({ host: LOOPBACK, port: targetPort })
      track(upstream)
      client.pipe(upstream).pipe(client)
      client.on('error', () => upstream.destroy())
      upstream.on('error', () => client.destroy())
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject)
      server!.listen({ port, host: LOOPBACK }, () => resolve())
    })
    const address = server.address()
    port = typeof address === 'object' && address !== null ? address.port : 0
    proxy.port = port
    proxy.url = `http://${LOOPBACK}:${port}`
  }
  const stopListening = async (): Promise<void> => {
    const closing = server
    server = undefined
    for (const socket of sockets) socket.destroy()
    if (closing !== undefined) await new Promise<void>((resolve) => closing.close(() => resolve()))
  }
  await listen()
  return proxy
}

/** The outcome of one bounded SDK call. */
export type Outcome =
  | { kind: 'ok'; value: unknown }
  /** What the node answered (for an unbound v2 answer, what it claimed). */
  | { kind: 'refused'; status: number; code: string; message: string }
  /** No answer: connection refused or reset, or the call's deadline passed. */
  | { kind: 'transport'; message: string }

/** Runs one SDK call and says how it ended; never throws, except for a bug in the test. */
export async function outcomeOf(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { kind: 'ok', value: await run() }
  } catch (error) {
    if (error instanceof KmsClientError) {
      const claimed = error.code === 'unbound_response' && error.unverified !== undefined ? error.unverified : { status: error.status, code: error.code, message: error.message }
      return { kind: 'refused', ...claimed }
    }
    if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError' || error instanceof TypeError)) {
      return { kind: 'transport', message: `${error.name}: ${error.message}` }
    }
    throw error
  }
}

/** An SDK client of `app` for `node` whose every exchange ends within `timeoutMs`. */
export function boundedClient(app: TestApp, node: TestNode, timeoutMs = 20_000): Promise<KmsClient> {
  return clientFor(node, {
    walletKey: app.walletKey,
    teeKey: app.teeKey,
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }),
  })
}

/** Counts what a suite did, for its summary line. */
export class Tally {
  cases = 0
  ok = 0
  /** Answers that are exactly the PROTOCOL refusal for the fault under way. */
  correctRefusals = 0
  /** 5xx answers that are not such a refusal. */
  unexpected5xx = 0
  /** Anything else that went wrong (4xx, transport failures outside a fault, …). */
  otherFailures = 0
  readonly samples: string[] = []

  note(kind: 'ok' | 'correct' | '5xx' | 'other', detail?: string): void {
    this.cases++
    if (kind === 'ok') this.ok++
    else if (kind === 'correct') this.correctRefusals++
    else if (kind === '5xx') this.unexpected5xx++
    else this.otherFailures++
    if (detail !== undefined && kind !== 'ok' && this.samples.length < 20) this.samples.push(`${kind}: ${detail}`)
  }
}

/** One line, `faults/<suite>: k=v …`, the same shape for every suite. */
export function printSummary(suite: string, fields: Record<string, number | string | boolean>): string {
  const line = `faults/${suite}: ${Object.entries(fields).map(([key, value]) => `${key}=${value}`).join(' ')}`
  console.log(line)
  return line
}

/** `VmRSS` or `VmHWM` of `/proc/<pid>/status`, in bytes. */
export function procStatusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`)
  return Number(match[1]) * 1024
}

/** Open file descriptors of a process (sockets included): the entries of `/proc/<pid>/fd`. */
export function openFdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length
}

/** The value of one Prometheus sample in `/metrics` text, or 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`)
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const close = line.indexOf('}')
    const present = line.slice(name.length + 1, close).split(',')
    if (wanted.every((label) => present.includes(label))) return Number(line.slice(close + 1).trim())
  }
  return 0
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
