/**
 * KMS nodes for the bench: `node dist/kms.mjs` child processes on loopback (spawned by
 * bundle/processes.ts, like the devnet's and the tests'), tracked by PID so that every one is
 * stopped at the end, even when a measurement throws or the bench is interrupted. Unlike
 * test/helpers' startProcessNode, the bench needs the PID (CPU time, RSS), the spawn instant
 * (cold start) and optional Node flags (the memory probe).
 */
import type { ChildProcess } from 'node:child_process'
import { hasExited, signal, spawnKmsNode, waitUntil } from '../bundle/processes'
import type { DevChain } from '../test/helpers/devChain'
import { nodeEnvironment, registerKmsNode, type NodeStatus, type TestNode } from '../test/helpers/kmsNodes'
import { log } from './_harness'

export const BUNDLE_PATH = 'dist/kms.mjs'

/** One secret for every bench node: the first node commits its hash, the others preload it. */
export const MASTER_SECRET_HEX = '5e'.repeat(32)

/**
 * What every bench node runs with. The per-client limiters (120/min, 30/min for /nonce), the
 * node-wide /nonce bucket (1800/min, loopback included, so it caps every PoP round trip at
 * 30/s) and the per-app limiter (6000/min) would cap a load test from one loopback client,
 * so they are raised, not turned off: the limiter code still runs on every request.
 */
export const BENCH_ENV: Readonly<Record<string, string>> = {
  LOG_LEVEL: 'WARN',
  KMS_NODE_TICK_SECONDS: '1',
  MASTER_SECRET_HEX,
  RATE_LIMIT_PER_MINUTE: '100000000',
  NONCE_RATE_LIMIT_PER_MINUTE: '100000000',
  NODE_NONCE_RATE_LIMIT_PER_MINUTE: '100000000',
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
  for (const child of running) if (!hasExited(child)) signal(child.pid!, 'SIGKILL')
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
  /** A loopback port chosen beforehand (e.g. registered already); a free one when absent. */
  port?: number
}

/** Spawns `node dist/kms.mjs` on a free loopback port and waits until /health answers. */
export async function startNode(chain: DevChain, options: StartNodeOptions = {}): Promise<BenchNode> {
  const spawned = await spawnKmsNode({
    env: nodeEnvironment(chain, { ...BENCH_ENV, ...options.env }),
    bundlePath: BUNDLE_PATH,
    nodeArgs: options.nodeArgs ?? [],
    ipc: options.ipc === true,
    onSpawn: (child) => {
      running.add(child)
      child.once('exit', () => running.delete(child))
    },
    healthTimeoutMs: options.healthTimeoutMs ?? 20_000,
    ...(options.port === undefined ? {} : { port: options.port }),
    // Every 10 ms: the cold-start measurement reads the boot time off this wait.
    healthIntervalMs: 10,
  })
  const { child, url } = spawned
  const fetcher = (path: string, init?: RequestInit): Promise<Response> =>
    fetch(`${url}${path}`, { ...init, signal: init?.signal ?? AbortSignal.timeout(10_000) })
  return {
    kind: 'process',
    url,
    pid: spawned.pid,
    child,
    spawnedAt: spawned.spawnedAt,
    instanceId: undefined,
    fetch: fetcher,
    tick: async () => undefined, // a process ticks by itself, every KMS_NODE_TICK_SECONDS
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: spawned.stop,
  }
}

/** Registers the node (under `instanceUrl`, e.g. its proxy) and waits until it is available. */
export async function registerAndAwaitReady(chain: DevChain, node: BenchNode, instanceUrl?: string): Promise<NodeStatus> {
  const { instanceId } = await registerKmsNode(chain, node, instanceUrl === undefined ? {} : { instanceUrl })
  node.instanceId = instanceId
  return waitUntil('service_available', async () => {
    const status = await node.status()
    return status.node.service_available ? status : undefined
  }, { timeoutMs: 30_000, intervalMs: 50 })
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
