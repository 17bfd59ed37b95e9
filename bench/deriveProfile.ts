/**
 * 1b. Where a derive's node CPU goes: a second node, started with `--cpu-prof`, serves the
 * same closed-loop derives as 1a for a few seconds; its profile is summed into buckets by
 * bench/_cpuProfile.ts (crypto by its entry point, the rest leaf-first: HTTP, web streams,
 * the node's own code, GC). A separate node, so that the profiler's own cost (a few percent)
 * stays out of 1a's figures.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DevChain } from '../test/helpers/devChain'
import { readCpuProfile, summarizeCpuProfile, type ProfileBreakdown } from './_cpuProfile'
import { closedLoop, emptyRoundTrips, type BenchApp } from './_load'
import { registerAndAwaitReady, retireNode, startNode } from './_nodes'
import { CONCURRENCY } from './derive'

export interface DeriveProfileResult extends ProfileBreakdown {
  requests_per_second: number
  /**
   * Busy main-thread CPU over the node's life (boot and registration included, under 5% of
   * it) per request; thread-pool work, such as WebCrypto's AES, is not sampled.
   */
  main_thread_busy_ms_per_request: number
  requests: number
}

export async function measureDeriveProfile(chain: DevChain, app: BenchApp): Promise<DeriveProfileResult> {
  const directory = mkdtempSync(join(tmpdir(), 'nova-kms-profile-'))
  const node = await startNode(chain, { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', directory] })
  let retired = false
  try {
    await registerAndAwaitReady(chain, node)
    const trips = { current: emptyRoundTrips() }
    const clients = await Promise.all(Array.from({ length: CONCURRENCY }, () => app.client(node, () => trips.current)))
    let requests = 0
    const served = await closedLoop({
      label: 'derive (profiled)',
      node,
      concurrency: CONCURRENCY,
      rounds: 3,
      roundMs: 2000,
      warmupMs: 1000,
      trips,
      operation: async (worker) => {
        await clients[worker]!.derive({ path: 'bench/derive', context: `worker-${worker}` })
        requests++
      },
    })
    // The profile is written when the process exits normally (SIGTERM drains, then exits).
    await retireNode(chain, node)
    retired = true
    const breakdown = summarizeCpuProfile(readCpuProfile(directory))
    return {
      requests_per_second: served.requests_per_second,
      requests,
      main_thread_busy_ms_per_request: Math.round((breakdown.busy_ms / requests) * 1000) / 1000,
      ...breakdown,
    }
  } finally {
    if (!retired) await retireNode(chain, node)
    rmSync(directory, { recursive: true, force: true })
  }
}
