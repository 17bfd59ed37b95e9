/**
 * 1a. Derive throughput of one `node dist/kms.mjs` against its crypto floor. A few concurrent
 * SDK clients do real derives (GET /nonce, PoP, envelope, POST /kms/derive, verify, open);
 * the floor is the same request's mandatory crypto back to back in this process. GET /nonce
 * alone is measured too, because every authenticated request pays one extra round trip for it.
 */
import { round } from './_harness'
import { deriveIteration, measureFloor, type FloorKeys, type FloorResult } from './_floor'
import { closedLoop, emptyRoundTrips, type BenchApp, type ClosedLoopResult } from './_load'
import type { BenchNode } from './_nodes'

export const CONCURRENCY = 4

export interface DeriveResult {
  served: ClosedLoopResult
  floor: FloorResult
  /** served req/s ÷ floor ops/s (both sides' crypto on one thread). */
  ratio_to_floor: number
  /** served req/s ÷ the node-side floor: how close the node gets to its crypto-bound rate. */
  ratio_to_node_side_floor: number
  /** Share of the node's CPU per request that the floor's node-side crypto (its CPU time) accounts for. */
  node_cpu_share_of_crypto: number
  nonce_only: ClosedLoopResult
  /** Node CPU for the /nonce round trip, as a share of a whole derive's node CPU. */
  nonce_share_of_node_cpu: number
}

export async function measureDerive(node: BenchNode, app: BenchApp, keys: FloorKeys): Promise<DeriveResult> {
  const floor = await measureFloor('derive', () => deriveIteration(keys))

  const trips = { current: emptyRoundTrips() }
  const clients = await Promise.all(Array.from({ length: CONCURRENCY }, () => app.client(node, () => trips.current)))
  const served = await closedLoop({
    label: 'derive',
    node,
    concurrency: CONCURRENCY,
    rounds: 5,
    roundMs: 2000,
    warmupMs: 1000,
    trips,
    operation: (worker) => clients[worker]!.derive({ path: 'bench/derive', context: `worker-${worker}` }),
  })
  const nonceOnly = await closedLoop({
    label: 'GET /nonce',
    node,
    concurrency: CONCURRENCY,
    rounds: 3,
    roundMs: 1000,
    warmupMs: 500,
    trips,
    operation: (worker) => clients[worker]!.nonce(),
  })
  return {
    served,
    floor,
    ratio_to_floor: round(served.requests_per_second / floor.ops_per_second, 3),
    ratio_to_node_side_floor: round(served.requests_per_second / floor.node_side_ops_per_second, 3),
    node_cpu_share_of_crypto: round(floor.node_cpu_us_per_op / 1000 / served.node_cpu_ms_per_request, 3),
    nonce_only: nonceOnly,
    nonce_share_of_node_cpu: round(nonceOnly.node_cpu_ms_per_request / served.node_cpu_ms_per_request, 3),
  }
}
