/**
 * KMS nodes for the bench: `node dist/kms.mjs` child processes on loopback, tracked by PID so
 * that every one is stopped at the end, even when a measurement throws or the bench is
 * interrupted. Unlike test/helpers' startProcessNode, the bench needs the PID (CPU time,
 * RSS), the spawn instant (cold start) and optional Node flags (the memory probe).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { DevChain } from '../test/helpers/devChain'
import { freePort, nodeEnvironment, registerKmsNode, type NodeStatus, type TestNode } from '../test/helpers/kmsNodes'
import { log, waitFor } from './_harness'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const BUNDLE_PATH = 'dist/kms.mjs'

/** One secret for every bench node: the first node commits its hash, the others preload it. */
export const MASTER_SECRET_HEX = '5e'.repeat(32)

/**
 * What every bench node runs with. The per-client limiters (120/min, 30/min for /nonce) and
 * the per-app limiter (6000/min) would cap a load test from one loopback client, so they are
 * raised, not turned off: the limiter code still runs on every request.
 */
export const BENCH_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'WARN',
  KMS_NODE_TICK_SECONDS: '1',
  MASTER_SECRET_HEX,
  RATE_LIMIT_PER_MINUTE: '100000000',
  NONCE_RATE_LIMIT_PER_MINUTE: '100000000',
  APP_RATE_LIMIT_PER_MINUTE: '100000000',
}

export interface BenchNode extends TestNode {
  readonly pid: number
  readonly child: ChildProcess
  /** `performance.now()` just before spawn. */
  readonly spawnedAt: number
  /** Registry instance id, once registered. */
  instanceId: number | undefined
}

const running = new Set<ChildProcess>()

/** SIGKILLs every node still running, by PID. Idempotent; also runs on process exit. */
export function killAllNodes(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  }
  running.clear()
}
process.once('exit', killAllNodes)

export interface StartNodeOptions {
  env?: Record<string, string>
  /** Extra Node flags before the bundle path (e.g. the memory probe). */
  nodeArgs?: string[]
  /** Opens an IPC channel (the memory probe answers on it). */
  ipc?: boolean
  /** How long to wait for /health. */
  healthTimeoutMs?: number
}

/** Spawns `node dist/kms.mjs` on a free loopback port and waits until /health answers. */
export async function startNode(chain: DevChain, options: StartNodeOptions = {}): Promise<BenchNode> {
  const port = await freePort()
  const env = nodeEnvironment(chain, { ...BENCH_ENV, BIND_ADDR: `127.0.0.1:${port}`, ...options.env })
  const spawnedAt = performance.now()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BUNDLE_PATH], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe', ...(options.ipc === true ? (['ipc'] as const) : [])],
  })
  if (child.pid === undefined) throw new Error('node dist/kms.mjs did not spawn')
  running.add(child)
  child.once('exit', () => running.delete(child))
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000)
  })
  const url = `http://127.0.0.1:${port}`
  const fetcher = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`${url}${path}`, { ...init, signal: init?.signal ?? AbortSignal.timeout(10_000) })
  const node: BenchNode = {
    kind: 'process',
    url,
    pid: child.pid,
    child,
    spawnedAt,
    instanceId: undefined,
    fetch: fetcher,
    tick: async () => undefined, // a process ticks by itself, every KMS_NODE_TICK_SECONDS
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: () => stopChild(child),
  }
  try {
    await waitFor('/health of node dist/kms.mjs', options.healthTimeoutMs ?? 20_000, 10, async () => {
      if (child.exitCode !== null) throw new Error(`node dist/kms.mjs exited with ${child.exitCode}: ${stderr}`)
      return (await fetcher('/health', { signal: AbortSignal.timeout(1000) })).ok ? true : undefined
    })
  } catch (error) {
    await stopChild(child)
    throw new Error(`${String(error)}; stderr: ${stderr.trim().slice(-500)}`)
  }
  return node
}

/** SIGTERM by PID, SIGKILL after 5 s; resolves once the process has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  process.kill(child.pid, 'SIGTERM')
  const timer = setTimeout(() => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/** Registers the node (under `instanceUrl`, e.g. its proxy) and waits until it is available. */
export async function registerAndAwaitReady(chain: DevChain, node: BenchNode, instanceUrl?: string): Promise<NodeStatus> {
  const { instanceId } = await registerKmsNode(chain, node, instanceUrl === undefined ? {} : { instanceUrl })
  node.instanceId = instanceId
  return waitFor('service_available', 30_000, 50, async () => {
    const status = await node.status()
    return status.node.service_available ? status : undefined
  })
}

/**
 * Takes the node out of the registry (STOPPED), so that later measurements' nodes neither
 * sync with it nor try to pull a snapshot from it, then stops it. Never throws.
 */
export async function retireNode(chain: DevChain, node: BenchNode): Promise<void> {
  if (node.instanceId !== undefined) {
    await chain.setInstanceStatus(node.instanceId, 1).catch((error: unknown) => log(`could not stop instance ${node.instanceId}: ${String(error)}`))
  }
  await node.stop().catch(() => undefined)
}
