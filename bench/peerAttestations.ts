/**
 * 6. Peer attestations (PROTOCOL §4.5) at steady state: a three-node cluster of `node
 * dist/kms.mjs` processes with KMS_NODE_TICK_SECONDS=1 and DATA_SYNC_INTERVAL_SECONDS=1.
 * Node 1 preloads the secret whose hash is on chain; nodes 2 and 3 have none, so each joins
 * through a `master_secret_request`, which costs one verification on each side (more if a
 * first attempt is refused, e.g. before node 1's peer cache lists the newcomer). Once every
 * node is ready and lists three instances, `nova_kms_peer_attestations_total`, summed over
 * the three nodes, is read before and after a fixed window with one write a second to node 1
 * (so deltas flow). Only joins attest, so the expected increase is 0.
 */
import { waitUntil } from '../bundle/processes'
import type { DevChain } from '../test/helpers/devChain'
import { log, round, sleep } from './_harness'
import { emptyRoundTrips, type BenchApp } from './_load'
import { registerAndAwaitReady, retireNode, startNode, type BenchNode } from './_nodes'

const WINDOW_SECONDS = 30

export interface PeerAttestationsResult {
  nodes: number
  node_tick_seconds: number
  data_sync_interval_seconds: number
  /** Counts until the cluster was ready, by `<verified> <result>` over all nodes: the two joins. */
  joins: Record<string, number>
  window_seconds: number
  writes_in_window: number
  /** What grew during the window, by `<verified> <result>`. */
  window_increase: Record<string, number>
  /** Both sides together, per minute of the window. */
  per_minute: number
}

/** `nova_kms_peer_attestations_total` of one node, keyed `<verified> <result>`. */
async function readCounts(node: BenchNode): Promise<Record<string, number>> {
  const text = await (await node.fetch('/metrics')).text()
  const counts: Record<string, number> = {}
  for (const match of text.matchAll(/^nova_kms_peer_attestations_total\{verified="(\w+)",result="([^"]*)"\} (\d+)$/gm)) {
    counts[`${match[1]} ${match[2]}`] = Number(match[3])
  }
  return counts
}

async function clusterCounts(nodes: readonly BenchNode[]): Promise<Record<string, number>> {
  const total: Record<string, number> = {}
  for (const counts of await Promise.all(nodes.map(readCounts))) {
    for (const [key, count] of Object.entries(counts)) total[key] = (total[key] ?? 0) + count
  }
  return total
}

export async function measurePeerAttestations(chain: DevChain, app: BenchApp): Promise<PeerAttestationsResult> {
  const nodes: BenchNode[] = []
  try {
    const env = { DATA_SYNC_INTERVAL_SECONDS: '1' }
    const first = await startNode(chain, { env })
    nodes.push(first)
    await registerAndAwaitReady(chain, first)
    for (let index = 0; index < 2; index++) {
      // No preloaded secret: the node must join (bench/_nodes.ts preloads it by default).
      const joiner = await startNode(chain, { env: { ...env, MASTER_SECRET_HEX: '' } })
      nodes.push(joiner)
      const status = await registerAndAwaitReady(chain, joiner)
      if (status.node.master_secret.state !== 'synced') throw new Error(`a joiner ended ${status.node.master_secret.state}, not synced`)
    }
    await waitUntil('every node to list three instances', async () => {
      const statuses = await Promise.all(nodes.map((node) => node.status()))
      return statuses.every((status) => status.cluster.total_instances === 3 && status.node.service_available)
    }, { timeoutMs: 20_000, intervalMs: 100 })

    const joins = await clusterCounts(nodes)
    log(`peer attestations: ready after ${JSON.stringify(joins)}; watching ${WINDOW_SECONDS} s`)
    const client = await app.client(first, () => emptyRoundTrips())
    const started = performance.now()
    let writes = 0
    while (performance.now() - started < WINDOW_SECONDS * 1000) {
      await client.putData(`bench/attest/${writes}`, new Uint8Array(64).fill(0x61))
      writes++
      await sleep(1000)
    }
    const after = await clusterCounts(nodes)
    const seconds = (performance.now() - started) / 1000
    const increase: Record<string, number> = {}
    for (const [key, count] of Object.entries(after)) if (count !== (joins[key] ?? 0)) increase[key] = count - (joins[key] ?? 0)
    const grown = Object.values(increase).reduce((sum, count) => sum + count, 0)
    return {
      nodes: nodes.length,
      node_tick_seconds: 1,
      data_sync_interval_seconds: 1,
      joins,
      window_seconds: round(seconds, 1),
      writes_in_window: writes,
      window_increase: increase,
      per_minute: round((grown * 60) / seconds, 2),
    }
  } finally {
    for (const node of nodes) await retireNode(chain, node)
  }
}
