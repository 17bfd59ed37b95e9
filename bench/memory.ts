/**
 * 4. Memory per stored key, read on the three sync-benchmark nodes before the N writes and
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
import { processRssBytes, round } from './_harness'
import type { BenchNode } from './_nodes'

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

export interface MemoryResult {
  keys: number
  /** The stored form of one value: nonce ‖ AES-GCM ciphertext ‖ tag (§5.3). */
  ciphertext_bytes_per_key: number
  /** Mean of nodes 2 and 3 (sync-fed: the store alone). */
  live_bytes_per_key: number
  live_bytes_per_ciphertext_byte: number
  rss_bytes_per_key: number
  nodes: Record<string, NodeMemory>
}

/** What the sync measurement needs to let memory be read around its writes. */
export interface MemoryObserver {
  nodeArgs: string[]
  before(nodes: readonly BenchNode[]): Promise<void>
  after(nodes: readonly BenchNode[], keys: number, ciphertextBytesPerKey: number): Promise<void>
  result(): MemoryResult
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
  let outcome: MemoryResult | undefined
  return {
    nodeArgs: ['--expose-gc', '--import', new URL('./memoryProbe.mjs', import.meta.url).href],
    async before(nodes) {
      before = await Promise.all(nodes.map(read))
    },
    async after(nodes, keys, ciphertextBytesPerKey) {
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
      outcome = {
        keys,
        ciphertext_bytes_per_key: round(ciphertextBytesPerKey),
        live_bytes_per_key: round(live),
        live_bytes_per_ciphertext_byte: round(live / ciphertextBytesPerKey, 2),
        rss_bytes_per_key: round((syncFed[0]!.rss_bytes_per_key + syncFed[1]!.rss_bytes_per_key) / 2),
        nodes: perNode,
      }
    },
    result() {
      if (outcome === undefined) throw new Error('memory: the sync measurement did not reach its after-reading')
      return outcome
    },
  }
}
