/**
 * 3. Sync convergence of a three-node cluster: three `node dist/kms.mjs` processes with
 * DATA_SYNC_INTERVAL_SECONDS=1, each behind a counting proxy under whose URL it is
 * registered, so all peer traffic is counted. N keys are written to node 1 through the SDK
 * (with the raised rate limits of bench/_nodes.ts); the clock runs from the last acknowledged
 * write until nodes 2 and 3 report all N keys in /status `data_store.total_keys`. Bytes are
 * counted from the first write until the cluster is quiet (no peer exchange for a few sync
 * intervals), so whatever nodes 2 and 3 forward again, or send only to acknowledge (PROTOCOL
 * §6.8), is counted: `amplification_vs_ideal` divides those real bytes by the ideal.
 */
import { canonicalJson } from '../core/encoding'
import type { DevChain } from '../test/helpers/devChain'
import { startCountingProxy, type CountingProxy, type Exchange } from './_countingProxy'
import { waitUntil } from '../bundle/processes'
import { log, round } from './_harness'
import { emptyRoundTrips, type BenchApp } from './_load'
import { registerAndAwaitReady, retireNode, startNode, type BenchNode } from './_nodes'
import { VALUE_BYTES } from './kv'
import type { MemoryObserver } from './memory'

export const SYNC_KEYS = 10_000
const WRITERS = 6
const WARMUP_WRITES = 300
const QUIET_MS = 3000

export interface SyncResult {
  keys: number
  value_bytes: number
  data_sync_interval_seconds: number
  /** How fast node 1 took the writes (all SDK round trips, while it also pushed). */
  write_seconds: number
  writes_per_second: number
  /** From the last acknowledged write until each node held every key. */
  node2_converged_ms: number
  node3_converged_ms: number
  converged_ms: number
  /** Peer bodies (request + response, /sync and /nonce) from the first write until convergence. */
  bytes_until_converged: number
  /** …and until the cluster was quiet: the full cost of replicating the writes. */
  bytes_total: number
  bytes_per_key: number
  /** Two peers × one record's wire JSON, doubled by the envelope's hex (§5.6): no re-forwarding. */
  ideal_bytes_per_key: number
  amplification_vs_ideal: number
  sync_requests: number
  /** /sync request bodies by sending node: what nodes 2 and 3 re-forward shows here. */
  sync_request_bytes_by_sender: Record<string, number>
  sync_response_bytes: number
  nonce_bytes: number
}

function sum(exchanges: readonly Exchange[], pick: (exchange: Exchange) => number): number {
  return exchanges.reduce((total, exchange) => total + pick(exchange), 0)
}

/** The §4.3 wire form of one record as node 1 sends it, to size the no-forwarding ideal. */
function wireRecordBytes(key: string, wallet: string): number {
  const record = {
    key,
    value: 'ab'.repeat(VALUE_BYTES + 28),
    version: { [wallet]: 1 },
    updated_at_ms: Date.now(),
    tombstone: false,
    ttl_ms: 0,
  }
  return canonicalJson(record).length + 1 // and the comma between records
}

/**
 * Writes `count` keys to `node` from WRITERS SDK clients; `keyOf(i)` names the i-th key.
 * Bounded: each key is tried at most three times.
 */
async function writeKeys(node: BenchNode, app: BenchApp, count: number, keyOf: (index: number) => string): Promise<void> {
  const trips = { current: emptyRoundTrips() }
  const writers = await Promise.all(Array.from({ length: WRITERS }, () => app.client(node, () => trips.current)))
  const value = new Uint8Array(VALUE_BYTES).fill(0x62)
  let next = 0
  let failures = 0
  await Promise.all(
    writers.map(async (writer) => {
      for (let index = next++; index < count; index = next++) {
        trips.current = emptyRoundTrips() // the timings are not used here: keep them from growing
        for (let attempt = 0; ; attempt++) {
          try {
            await writer.putData(keyOf(index), value)
            break
          } catch (error) {
            if (++failures === 1) log(`sync: write failed: ${String(error)}`)
            if (attempt === 2) throw error
          }
        }
      }
    }),
  )
}

/** Resolves once no proxy has seen an exchange for QUIET_MS. */
async function quiet(proxies: readonly CountingProxy[]): Promise<void> {
  await waitUntil('a quiet cluster', () => {
    const last = Math.max(...proxies.flatMap((proxy) => proxy.exchanges.map((exchange) => exchange.endedAt)))
    return performance.now() - last > QUIET_MS
  }, { timeoutMs: 30_000, intervalMs: 250 })
}

/** Resolves, per node, when its /status first reports at least `keys` keys. */
function whenHolding(nodes: readonly BenchNode[], keys: number): Promise<number[]> {
  return Promise.all(
    nodes.map((node) =>
      waitUntil(`${keys} keys`, async () => ((await node.status()).data_store.total_keys >= keys ? performance.now() : undefined), { timeoutMs: 120_000, intervalMs: 20 }),
    ),
  )
}

/** `memory` reads each node before the writes and once the cluster is quiet (bench/memory.ts). */
export async function measureSync(chain: DevChain, app: BenchApp, memory: MemoryObserver): Promise<SyncResult> {
  const nodes: BenchNode[] = []
  const proxies: CountingProxy[] = []
  try {
    for (let index = 0; index < 3; index++) {
      const node = await startNode(chain, { env: { DATA_SYNC_INTERVAL_SECONDS: '1' }, nodeArgs: memory.nodeArgs, ipc: true })
      nodes.push(node)
      proxies.push(await startCountingProxy(node.url))
    }
    const wallets: string[] = []
    for (const [index, node] of nodes.entries()) wallets.push((await registerAndAwaitReady(chain, node, proxies[index]!.url)).node.tee_wallet)
    await waitUntil('every node to see three peers', async () => {
      const statuses = await Promise.all(nodes.map((node) => node.status()))
      return statuses.every((status) => status.cluster.total_instances === 3 && status.node.service_available)
    }, { timeoutMs: 20_000, intervalMs: 100 })
    // Warm-up, uncounted: overwrites of one key compile the put, push and ingest paths on
    // every node (compiled code is heap too), and every node pulls its cold-start snapshot.
    await writeKeys(nodes[0]!, app, WARMUP_WRITES, () => 'bench/sync/warmup')
    await whenHolding(nodes.slice(1), 1)
    await quiet(proxies)
    for (const proxy of proxies) proxy.exchanges.length = 0
    await memory.before(nodes)

    log(`sync: writing ${SYNC_KEYS} keys to node 1 from ${WRITERS} writers`)
    const writeStarted = performance.now()
    await writeKeys(nodes[0]!, app, SYNC_KEYS, (index) => `bench/sync/${String(index).padStart(5, '0')}`)
    const lastWrite = performance.now()
    log(`sync: writes done in ${round((lastWrite - writeStarted) / 1000, 1)} s; waiting for nodes 2 and 3`)

    const convergedAt = await whenHolding(nodes.slice(1), SYNC_KEYS + 1)
    const converged = Math.max(...convergedAt)
    const exchangesUntil = (instant: number): Exchange[] => proxies.flatMap((proxy) => proxy.exchanges.filter((exchange) => exchange.endedAt <= instant))
    const bytesUntilConverged = sum(exchangesUntil(converged), (e) => e.requestBytes + e.responseBytes)
    // Re-forwarded records keep arriving after convergence: count until the cluster is quiet.
    await quiet(proxies)
    const { data_store: stored } = await nodes[0]!.status()
    await memory.after(nodes, SYNC_KEYS, stored.total_bytes / stored.total_keys)
    const all = proxies.flatMap((proxy) => proxy.exchanges)
    const syncs = all.filter((exchange) => exchange.path === '/sync')
    const bytesTotal = sum(all, (e) => e.requestBytes + e.responseBytes)
    const bySender: Record<string, number> = {}
    for (const [index, wallet] of wallets.entries()) {
      bySender[`node${index + 1}`] = sum(syncs.filter((exchange) => exchange.sender === wallet.toLowerCase()), (e) => e.requestBytes)
    }
    const ideal = 2 * 2 * wireRecordBytes('bench/sync/00000', wallets[0]!)
    return {
      keys: SYNC_KEYS,
      value_bytes: VALUE_BYTES,
      data_sync_interval_seconds: 1,
      write_seconds: round((lastWrite - writeStarted) / 1000, 2),
      writes_per_second: round((SYNC_KEYS * 1000) / (lastWrite - writeStarted)),
      node2_converged_ms: round(convergedAt[0]! - lastWrite),
      node3_converged_ms: round(convergedAt[1]! - lastWrite),
      converged_ms: round(converged - lastWrite),
      bytes_until_converged: bytesUntilConverged,
      bytes_total: bytesTotal,
      bytes_per_key: round(bytesTotal / SYNC_KEYS),
      ideal_bytes_per_key: ideal,
      amplification_vs_ideal: round(bytesTotal / SYNC_KEYS / ideal, 2),
      sync_requests: syncs.length,
      sync_request_bytes_by_sender: bySender,
      sync_response_bytes: sum(syncs, (e) => e.responseBytes),
      nonce_bytes: sum(
        all.filter((exchange) => exchange.path === '/nonce'),
        (e) => e.requestBytes + e.responseBytes,
      ),
    }
  } finally {
    for (const node of nodes) await retireNode(chain, node)
    for (const proxy of proxies) await proxy.close()
  }
}
