/**
 * 5. Cold start of `node dist/kms.mjs` until ready: spawn → `/status` says
 * `service_available`, with MASTER_SECRET_HEX preloaded (its hash already on chain) and
 * KMS_NODE_TICK_SECONDS=1. The dev stand-in draws a fresh P-384 teePubkey per process, so
 * the instance can only be registered once the process is up; the total therefore splits
 * into: boot (spawn → HTTP answering), registration (the bench's own chain transactions),
 * and registration → ready (waiting for the next node_tick, then the tick itself). A bare
 * `node -e 0` is timed as the floor of the boot.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { DevChain } from '../test/helpers/devChain'
import { registerKmsNode } from '../test/helpers/kmsNodes'
import { waitUntil } from '../bundle/processes'
import { log, median, round } from './_harness'
import { retireNode, startNode } from './_nodes'

const RUNS = 3

export interface ColdStartRun {
  total_ms: number
  boot_ms: number
  register_ms: number
  register_to_ready_ms: number
}

export interface ColdStartResult {
  runs: number
  node_tick_seconds: number
  /** Medians over runs. */
  total_ms: number
  boot_ms: number
  register_ms: number
  register_to_ready_ms: number
  /** spawn → exit of `node -e 0`: what Node itself costs before any bundle code. */
  bare_node_ms: number
  each: ColdStartRun[]
}

async function bareNodeMs(): Promise<number> {
  const times: number[] = []
  for (let index = 0; index < RUNS; index++) {
    const started = performance.now()
    await promisify(execFile)(process.execPath, ['-e', '0'], { timeout: 10_000 })
    times.push(performance.now() - started)
  }
  return median(times)
}

export async function measureColdStart(chain: DevChain): Promise<ColdStartResult> {
  const each: ColdStartRun[] = []
  for (let index = 0; index < RUNS; index++) {
    // startNode returns once /health answers, polling every 10 ms.
    const node = await startNode(chain)
    try {
      const booted = performance.now()
      const { instanceId } = await registerKmsNode(chain, node)
      node.instanceId = instanceId
      const registered = performance.now()
      const ready = await waitUntil('service_available', async () => ((await node.status()).node.service_available ? performance.now() : undefined), {
        timeoutMs: 30_000,
        intervalMs: 10,
      })
      each.push({
        total_ms: round(ready - node.spawnedAt),
        boot_ms: round(booted - node.spawnedAt),
        register_ms: round(registered - booted),
        register_to_ready_ms: round(ready - registered),
      })
      log(`cold start ${index + 1}: ${JSON.stringify(each.at(-1))}`)
    } finally {
      await retireNode(chain, node)
    }
  }
  return {
    runs: RUNS,
    node_tick_seconds: 1,
    total_ms: round(median(each.map((run) => run.total_ms))),
    boot_ms: round(median(each.map((run) => run.boot_ms))),
    register_ms: round(median(each.map((run) => run.register_ms))),
    register_to_ready_ms: round(median(each.map((run) => run.register_to_ready_ms))),
    bare_node_ms: round(await bareNodeMs()),
    each,
  }
}
