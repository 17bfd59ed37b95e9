/**
 * 1b. KV put and get throughput of one node against their crypto floors. A get has no
 * request body (no request envelope) but decrypts the stored record; a put carries a 100 B
 * value in its envelope and encrypts the record. Gets read keys the put rounds wrote.
 */
import { round } from './_harness'
import { getIteration, measureFloor, putIteration, type FloorKeys, type FloorResult } from './_floor'
import { closedLoop, emptyRoundTrips, type BenchApp, type ClosedLoopResult } from './_load'
import type { BenchNode } from './_nodes'
import { CONCURRENCY } from './derive'

export const VALUE_BYTES = 100

export interface KvOperationResult {
  served: ClosedLoopResult
  floor: FloorResult
  ratio_to_floor: number
  ratio_to_node_side_floor: number
  node_cpu_share_of_crypto: number
}

export interface KvResult {
  value_bytes: number
  put: KvOperationResult
  get: KvOperationResult
}

function compare(served: ClosedLoopResult, floor: FloorResult): KvOperationResult {
  return {
    served,
    floor,
    ratio_to_floor: round(served.requests_per_second / floor.ops_per_second, 3),
    ratio_to_node_side_floor: round(served.requests_per_second / floor.node_side_ops_per_second, 3),
    node_cpu_share_of_crypto: round(floor.node_cpu_us_per_op / 1000 / served.node_cpu_ms_per_request, 3),
  }
}

export async function measureKv(node: BenchNode, app: BenchApp, keys: FloorKeys): Promise<KvResult> {
  const putFloor = await measureFloor('put', () => putIteration(keys))
  const getFloor = await measureFloor('get', () => getIteration(keys))

  const trips = { current: emptyRoundTrips() }
  const clients = await Promise.all(Array.from({ length: CONCURRENCY }, () => app.client(node, () => trips.current)))
  const value = new Uint8Array(VALUE_BYTES).fill(0x61)
  const written: string[] = []
  const put = await closedLoop({
    label: 'PUT /kms/data',
    node,
    concurrency: CONCURRENCY,
    rounds: 5,
    roundMs: 1500,
    warmupMs: 800,
    trips,
    operation: async (worker, sequence) => {
      const key = `bench/put/${sequence}`
      await clients[worker]!.putData(key, value)
      if (written.length < 512) written.push(key)
    },
  })
  if (written.length === 0) throw new Error('kv: no put succeeded, nothing to get')
  const get = await closedLoop({
    label: 'GET /kms/data',
    node,
    concurrency: CONCURRENCY,
    rounds: 5,
    roundMs: 1500,
    warmupMs: 800,
    trips,
    operation: (worker, sequence) => clients[worker]!.getData(written[sequence % written.length]!),
  })
  return { value_bytes: VALUE_BYTES, put: compare(put, putFloor), get: compare(get, getFloor) }
}
