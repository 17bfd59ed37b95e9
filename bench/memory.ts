/**
 * 4. Memory per stored key, two ways.
 *
 * The store alone at 100,000 keys (`store_100k`): bench/recordOverhead.ts fills one
 * `KvStore` in a child process (`--expose-gc`) with the bench's record, a 16-byte key and 128
 * bytes of ciphertext with one clock entry, once by local puts and once by `ingest` of parsed
 * /sync bodies, and reads heap + array buffers after a full GC. Loading 100,000 keys through
 * the API would take about 19 minutes here; in process it takes seconds. The goal (issue 14)
 * is live bytes per key ≤ 1.5 × payload + 200, where payload = key bytes + ciphertext bytes;
 * `charged_bytes_per_key` is what PROTOCOL §6.4 counts for the same record.
 *
 * On the nodes: read on the three sync-benchmark nodes before the N writes and
 * after the cluster has gone quiet (writing N keys through the API costs minutes here, so
 * they are written once and measured twice). Heap figures come from bench/memoryProbe.mjs,
 * preloaded into each node (`--expose-gc --import`), which answers over IPC after a full
 * GC, so they count live data only; RSS is read from /proc and also holds pages the heap
 * has freed but kept.
 *
 * Nodes 2 and 3 get the keys by /sync only, so their difference is the store's. Node 1 also
 * served the N API writes, which fill bounded per-request memories (4096 envelope replay
 * pairs, nonces): its figure includes them.
 */
import { once } from 'node:events'
import { CIPHERTEXT_OVERHEAD } from '../core/store/storeRecord'
import { processRssBytes, round } from './_harness'
import { VALUE_BYTES } from './kv'
import type { BenchNode } from './_nodes'
import { measureScenario, type ScenarioResult } from './recordOverhead'

/** Keys in the in-process store measurement. */
const STORE_KEYS = 100_000

interface Reading {
  rss: number
  heapUsed: number
  heapTotal: number
  external: number
  arrayBuffers: number
  procRss: number
}

export interface NodeMemory {
  heap_used_bytes_per_key: number
  /** Outside the JS heap: the ciphertexts' ArrayBuffer backing stores. */
  array_buffers_bytes_per_key: number
  /** heap + array buffers: what one key costs in live memory. */
  live_bytes_per_key: number
  rss_bytes_per_key: number
  heap_used_mb_before_after: [number, number]
  rss_mb_before_after: [number, number]
}

/** One in-process fill of a `KvStore` (bench/recordOverhead.ts), per key. */
export interface StoreFill {
  live_bytes_per_key: number
  rss_bytes_per_key: number
  charged_bytes_per_key: number
}

/** The store alone at STORE_KEYS keys, against the issue-14 goal. */
export interface StoreMemory {
  keys: number
  key_bytes: number
  ciphertext_bytes: number
  /** key bytes + ciphertext bytes. */
  payload_bytes_per_key: number
  /** The larger of the put and ingest fills: heap + array buffers after GC. */
  live_bytes_per_key_100k: number
  /** 1.5 × payload + 200. */
  goal_bytes_per_key: number
  within_goal: boolean
  /** PROTOCOL §6.4 `chargedBytes` of the same record (key + ciphertext + 768 + 128 per clock entry). */
  charged_bytes_per_key: number
  by_put: StoreFill
  by_ingest: StoreFill
}

export interface MemoryResult {
  keys: number
  /** The stored form of one value: nonce ‖ AES-GCM ciphertext ‖ tag (§5.3): the bench's value + 28. */
  ciphertext_bytes_per_key: number
  /** /status `data_store.total_bytes / total_keys` on node 1: PROTOCOL §6.4 charged bytes, not ciphertext. */
  charged_bytes_per_key: number
  /** Mean of nodes 2 and 3 (sync-fed: the store alone). */
  live_bytes_per_key: number
  live_bytes_per_ciphertext_byte: number
  rss_bytes_per_key: number
  nodes: Record<string, NodeMemory>
  store_100k: StoreMemory
}

/** What the sync measurement needs to let memory be read around its writes. */
export interface MemoryObserver {
  nodeArgs: string[]
  before(nodes: readonly BenchNode[]): Promise<void>
  /** `chargedBytesPerKey`: /status `total_bytes / total_keys`, which PROTOCOL §6.4 counts. */
  after(nodes: readonly BenchNode[], keys: number, chargedBytesPerKey: number): Promise<void>
  /**
   * The node figures with the in-process 100,000-key measurement, which runs here. Without the
   * node figures (the sync measurement failed, and reported so) the store's are still given.
   */
  result(): MemoryResult | { error: string; store_100k: StoreMemory }
}

const perKey = (fill: ScenarioResult): StoreFill => ({
  live_bytes_per_key: fill.live_bytes_per_record,
  rss_bytes_per_key: fill.rss_bytes_per_record,
  charged_bytes_per_key: fill.charged_bytes_per_record,
})

/** Fills a store with `keys` of the bench's records in two child processes (seconds, not minutes). */
export function measureStoreMemory(keys = STORE_KEYS): StoreMemory {
  const byPut = measureScenario('bench_put', keys)
  const byIngest = measureScenario('bench_ingest', keys)
  const payload = byPut.key_charged_bytes + byPut.ciphertext_bytes
  const live = Math.max(byPut.live_bytes_per_record, byIngest.live_bytes_per_record)
  const goal = 1.5 * payload + 200
  return {
    keys,
    key_bytes: byPut.key_charged_bytes,
    ciphertext_bytes: byPut.ciphertext_bytes,
    payload_bytes_per_key: payload,
    live_bytes_per_key_100k: live,
    goal_bytes_per_key: goal,
    within_goal: live <= goal,
    charged_bytes_per_key: byPut.charged_bytes_per_record,
    by_put: perKey(byPut),
    by_ingest: perKey(byIngest),
  }
}

async function read(node: BenchNode): Promise<Reading> {
  const answer = once(node.child, 'message', { signal: AbortSignal.timeout(10_000) })
  node.child.send('memory')
  const [usage] = (await answer) as [Omit<Reading, 'procRss'>]
  return { ...usage, procRss: processRssBytes(node.pid) }
}

const megabytes = (bytes: number): number => round(bytes / 2 ** 20, 1)

export function createMemoryObserver(): MemoryObserver {
  let before: Reading[] = []
  let outcome: Omit<MemoryResult, 'store_100k'> | undefined
  return {
    nodeArgs: ['--expose-gc', '--import', new URL('./memoryProbe.mjs', import.meta.url).href],
    async before(nodes) {
      before = await Promise.all(nodes.map(read))
    },
    async after(nodes, keys, chargedBytesPerKey) {
      const after = await Promise.all(nodes.map(read))
      const perNode: Record<string, NodeMemory> = {}
      for (const [index, reading] of after.entries()) {
        const start = before[index]!
        const perKey = (field: keyof Reading): number => round((reading[field] - start[field]) / keys)
        perNode[`node${index + 1}`] = {
          heap_used_bytes_per_key: perKey('heapUsed'),
          array_buffers_bytes_per_key: perKey('arrayBuffers'),
          live_bytes_per_key: round(perKey('heapUsed') + perKey('arrayBuffers')),
          rss_bytes_per_key: perKey('procRss'),
          heap_used_mb_before_after: [megabytes(start.heapUsed), megabytes(reading.heapUsed)],
          rss_mb_before_after: [megabytes(start.procRss), megabytes(reading.procRss)],
        }
      }
      const syncFed = [perNode['node2']!, perNode['node3']!]
      const live = (syncFed[0]!.live_bytes_per_key + syncFed[1]!.live_bytes_per_key) / 2
      const ciphertextBytesPerKey = VALUE_BYTES + CIPHERTEXT_OVERHEAD
      outcome = {
        keys,
        ciphertext_bytes_per_key: ciphertextBytesPerKey,
        charged_bytes_per_key: round(chargedBytesPerKey),
        live_bytes_per_key: round(live),
        live_bytes_per_ciphertext_byte: round(live / ciphertextBytesPerKey, 2),
        rss_bytes_per_key: round((syncFed[0]!.rss_bytes_per_key + syncFed[1]!.rss_bytes_per_key) / 2),
        nodes: perNode,
      }
    },
    result() {
      const store = measureStoreMemory()
      if (outcome === undefined) return { error: 'memory: the sync measurement did not reach its after-reading', store_100k: store }
      return { ...outcome, store_100k: store }
    },
  }
}
