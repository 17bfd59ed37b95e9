/**
 * Child processes for the devnet, the bench and the node tests, in one place: loopback ports,
 * bounded waits, and `node dist/kms.mjs` spawned, awaited on `/health` and stopped by PID.
 *
 * Node only (`node:child_process`, `node:net`): the bundles never import it.
 *
 * @module
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

/** Every server these helpers start or probe listens here, never on a public address. */
export const LOOPBACK = '127.0.0.1'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
const STDERR_TAIL_CHARS = 4000

/** Whether `port` can be bound on `host` right now (another process may take it a moment later). */
export function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)))
  })
}

/** A port on `host` that the OS picked as free. */
export function findFreePort(host: string = LOOPBACK): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`no free port on ${host}`))))
    })
  })
}

export interface WaitUntilOptions {
  timeoutMs: number
  /** Pause between probes; default 100 ms. */
  intervalMs?: number
  /** Checked before every probe: a reason (e.g. "the process exited") stops the wait at once. */
  abortIf?: () => string | undefined
}

/**
 * Polls `probe` until it returns a value other than `undefined` or `false`, and returns it.
 * A probe that throws counts as "not yet" (a server that is not listening refuses).
 * @throws Error naming `label`, on timeout (with the probe's last error) or when `abortIf` gives a reason.
 */
export async function waitUntil<T>(
  label: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitUntilOptions,
): Promise<Exclude<T, undefined | false>> {
  const deadline = performance.now() + options.timeoutMs
  let lastError: unknown
  for (;;) {
    const reason = options.abortIf?.()
    if (reason !== undefined) throw new Error(`gave up waiting for ${label}: ${reason}`)
    try {
      const value = await probe()
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>
    } catch (error) {
      lastError = error
    }
    if (performance.now() >= deadline) {
      const last = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${label}${last}`)
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100))
  }
}

/** Whether the child has exited (or was never started). */
export function hasExited(child: ChildProcess): boolean {
  return child.pid === undefined || child.exitCode !== null || child.signalCode !== null
}

/**
 * Stops `child` by PID: SIGTERM, then SIGKILL if it is still running after `graceMs`
 * (default 5 s). Resolves once it has exited; a second call waits for the same exit.
 */
export async function stopProcess(child: ChildProcess, { graceMs = 5000 }: { graceMs?: number } = {}): Promise<void> {
  if (hasExited(child)) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const pid = child.pid!
  signal(pid, 'SIGTERM')
  const timer = setTimeout(() => hasExited(child) || signal(pid, 'SIGKILL'), graceMs)
  await exited
  clearTimeout(timer)
}

/** `process.kill` that ignores a process already gone. */
export function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
  }
}

/** Calls `onLine` for every line `child` writes to `stream`. */
export function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (stream === null) return
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine)
}

export interface SpawnKmsNodeOptions {
  /** The node's environment, complete except `BIND_ADDR` (set from `host` and `port`); `PATH` is added if missing. */
  env: Readonly<Record<string, string | undefined>>
  /** The port to bind. Omitted: a free one. A given port that is taken fails; it never falls back. */
  port?: number
  host?: string
  /** Working directory; default the repository root. */
  cwd?: string
  /** The bundle, relative to `cwd`; default `dist/kms.mjs`. */
  bundlePath?: string
  /** Node flags before the bundle path (e.g. the bench's memory probe). */
  nodeArgs?: readonly string[]
  /**
   * Runs something else in place of `node [nodeArgs] <bundlePath>`, given the node's whole
   * environment: the image test runs the node inside its image with `buildah run`, which
   * takes the environment as arguments. The command runs with `PATH` alone.
   */
  command?: (env: Readonly<Record<string, string>>) => { file: string; args: readonly string[] }
  /** Opens an IPC channel to the child. */
  ipc?: boolean
  /** Called right after the spawn, before `/health` answers: a caller can track the PID from the start. */
  onSpawn?: (child: ChildProcess) => void
  /** Receives every line of the node's stdout and stderr; without it stdout is discarded. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void
  /** How long to wait for `/health`; default 20 s. */
  healthTimeoutMs?: number
  /** Pause between `/health` probes; default 100 ms. */
  healthIntervalMs?: number
  /** SIGTERM → SIGKILL bound of `stop()`; default 5 s. */
  stopGraceMs?: number
}

export interface KmsNodeProcess {
  child: ChildProcess
  pid: number
  port: number
  /** `http://<host>:<port>`. */
  url: string
  /** `performance.now()` just before the spawn. */
  spawnedAt: number
  /** The last few KB the node wrote to stderr. */
  stderrTail(): string
  /** SIGTERM by PID, SIGKILL after the bound; resolves once the process has exited. */
  stop(): Promise<void>
}

/** A chosen free port can be taken before the node binds it: that many tries, then fail. */
const FREE_PORT_ATTEMPTS = 3

/**
 * Spawns `node dist/kms.mjs` listening on `host:port` and resolves once `/health` answers.
 * @throws Error with the node's stderr if it exits first, or does not answer in time (it is then stopped).
 */
export async function spawnKmsNode(options: SpawnKmsNodeOptions): Promise<KmsNodeProcess> {
  const host = options.host ?? LOOPBACK
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await findFreePort(host))
    try {
      return await launchKmsNode(options, host, port)
    } catch (error) {
      const portRace = options.port === undefined && attempt < FREE_PORT_ATTEMPTS && /EADDRINUSE/.test(String(error))
      if (!portRace) throw error
    }
  }
}

async function launchKmsNode(options: SpawnKmsNodeOptions, host: string, port: number): Promise<KmsNodeProcess> {
  const bundlePath = options.bundlePath ?? 'dist/kms.mjs'
  const stdio: StdioOptions = ['ignore', options.onOutput === undefined ? 'ignore' : 'pipe', 'pipe']
  if (options.ipc === true) stdio.push('ipc')
  const spawnedAt = performance.now()
  const env = definedOnly({ PATH: process.env['PATH'] ?? '', ...options.env, BIND_ADDR: `${host}:${port}` })
  const custom = options.command?.(env)
  const child =
    custom === undefined
      ? spawn(process.execPath, [...(options.nodeArgs ?? []), bundlePath], { cwd: options.cwd ?? ROOT, env, stdio })
      : spawn(custom.file, custom.args, { cwd: options.cwd ?? ROOT, env: { PATH: env['PATH'] ?? '' }, stdio })
  options.onSpawn?.(child)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL_CHARS)
  })
  if (options.onOutput !== undefined) {
    const onOutput = options.onOutput
    forEachLine(child.stdout, (line) => onOutput(line, 'stdout'))
    forEachLine(child.stderr, (line) => onOutput(line, 'stderr'))
  }
  let spawnError: Error | undefined
  child.once('error', (error) => (spawnError = error))
  // 'close' comes after 'exit', once stdout and stderr are drained: the whole stderr is read.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()))
  const stop = (): Promise<void> => stopProcess(child, { graceMs: options.stopGraceMs ?? 5000 })
  const url = `http://${host}:${port}`
  const what = `${custom === undefined ? `node ${bundlePath}` : custom.file} on ${host}:${port}`
  try {
    await waitUntil(`${what} to answer /health`, async () => (await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) })).ok, {
      timeoutMs: options.healthTimeoutMs ?? 20_000,
      intervalMs: options.healthIntervalMs ?? 100,
      abortIf: () => {
        if (spawnError !== undefined) return spawnError.message
        return hasExited(child) ? `it exited with ${child.exitCode ?? child.signalCode}` : undefined
      },
    })
  } catch (error) {
    await stop()
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000))])
    const tail = stderr.trim().slice(-1000)
    throw new Error(`${error instanceof Error ? error.message : String(error)}${tail === '' ? '' : `; stderr: ${tail}`}`)
  }
  return { child, pid: child.pid!, port, url, spawnedAt, stderrTail: () => stderr, stop }
}

/** The entries whose value is set (an `undefined` would reach the child as the text "undefined" in a command line). */
function definedOnly(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined))
}
