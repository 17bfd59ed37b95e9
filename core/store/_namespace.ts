/** One app's namespace (PROTOCOL §6.1): its records, true LRU (§6.4) and purge queues (§6.3). */
import { compareCodePoints } from '../encoding'
import { MinHeap } from './_heap'
import { RecencyList } from './_recencyList'
import { isSkipReason, mergeRecord, type MergeReason } from './mergeRecord'
import { chargedBytes, isExpired, type StoreRecord } from './storeRecord'

export interface NamespaceLimits {
  /** §6.4: charged bytes, tombstones included. */
  readonly maxAppStorageBytes: number
  /** §6.4: records held, tombstones included. */
  readonly maxRecordsPerApp: number
  readonly tombstoneRetentionMs: number
  readonly maxTombstonesPerApp: number
}

/**
 * A purge-queue entry. It copies the fields that order it instead of holding the record, so
 * that a replaced record's ciphertext is not kept alive by a stale entry.
 */
interface QueueEntry {
  readonly key: string
  readonly updatedAtMs: number
  readonly ttlMs: number
}

const entryOf = ({ key, updatedAtMs, ttlMs }: StoreRecord): QueueEntry => ({ key, updatedAtMs, ttlMs })

// The sum can round past 2^53 only for deadlines millennia away; `isExpired` decides exactly.
const soonerDeadline = (a: QueueEntry, b: QueueEntry): boolean => a.updatedAtMs + a.ttlMs < b.updatedAtMs + b.ttlMs

// §6.3: tombstones leave oldest first by (updated_at_ms, key).
const older = (a: QueueEntry, b: QueueEntry): boolean =>
  a.updatedAtMs !== b.updatedAtMs ? a.updatedAtMs < b.updatedAtMs : compareCodePoints(a.key, b.key) < 0

// Entries are pushed on every write and never updated in place. An entry is current while
// its key holds a record with the same fields (a stale twin of a current entry decides the
// same way, so it is harmless); other entries are dropped when they surface. A queue is
// rebuilt once it is more than twice the namespace, so memory stays O(n) and every
// operation O(log n) amortized.
const QUEUE_SLACK = 64

export class Namespace {
  readonly #limits: NamespaceLimits
  readonly #records = new Map<string, StoreRecord>()
  /** The non-tombstone keys: tombstones are never evicted (§6.4). */
  readonly #recency = new RecencyList()
  readonly #expiries = new MinHeap<QueueEntry>(soonerDeadline)
  readonly #tombstones = new MinHeap<QueueEntry>(older)
  #tombstoneCount = 0
  #totalBytes = 0

  constructor(limits: NamespaceLimits) {
    this.#limits = limits
  }

  /** Records held, tombstones and not-yet-purged expired records included. */
  get size(): number {
    return this.#records.size
  }

  /** Records that are not tombstones: the live ones, once purged. */
  get nonTombstoneCount(): number {
    return this.#records.size - this.#tombstoneCount
  }

  /** §6.4 `total_bytes`: the charged bytes (`chargedBytes`) of every record held, tombstones included. */
  get totalBytes(): number {
    return this.#totalBytes
  }

  /** The record under `key`, whatever its state; does not refresh recency. */
  find(key: string): StoreRecord | undefined {
    return this.#records.get(key)
  }

  /** Marks `key` most recently used (§6.4: a single-key read returned it). */
  touch(key: string): void {
    if (this.#recency.delete(key)) this.#recency.add(key)
  }

  records(): IterableIterator<StoreRecord> {
    return this.#records.values()
  }

  /** Stores `record` as the most recently used, then evicts down to the limits (§6.4). */
  write(record: StoreRecord): void {
    const previous = this.#records.get(record.key)
    if (previous !== undefined) this.#forget(previous)
    this.#records.set(record.key, record)
    this.#totalBytes += chargedBytes(record)
    if (record.tombstone) {
      this.#tombstoneCount++
      this.#tombstones.push(entryOf(record))
    } else {
      this.#recency.add(record.key)
    }
    if (record.ttlMs > 0) this.#expiries.push(entryOf(record))
    this.#compactQueues()
    this.#evictExcept(record.key)
  }

  /** Applies the §6.6 rule; an insert or replace counts as a write for recency and eviction. */
  merge(incoming: StoreRecord): MergeReason {
    const { reason, record } = mergeRecord(this.#records.get(incoming.key), incoming)
    if (!isSkipReason(reason)) this.write(record)
    return reason
  }

  /** §6.3: expired records, then tombstones past retention, then the oldest over the cap. */
  purge(nowMs: number): void {
    for (let top = this.#expiries.peek(); top !== undefined; top = this.#expiries.peek()) {
      const record = this.#records.get(top.key)
      if (record !== undefined && record.updatedAtMs === top.updatedAtMs && record.ttlMs === top.ttlMs) {
        if (!isExpired(record, nowMs)) break
        this.#remove(record)
      }
      this.#expiries.pop()
    }
    const { tombstoneRetentionMs, maxTombstonesPerApp } = this.#limits
    for (let top = this.#tombstones.peek(); top !== undefined; top = this.#tombstones.peek()) {
      const record = this.#records.get(top.key)
      if (record !== undefined && record.tombstone && record.updatedAtMs === top.updatedAtMs) {
        const retained = nowMs - record.updatedAtMs < tombstoneRetentionMs
        if (retained && this.#tombstoneCount <= maxTombstonesPerApp) break
        this.#remove(record)
      }
      this.#tombstones.pop()
    }
  }

  #overLimits(): boolean {
    return this.#totalBytes > this.#limits.maxAppStorageBytes || this.#records.size > this.#limits.maxRecordsPerApp
  }

  /**
   * §6.4: while over either limit, the least recently used non-tombstone goes, without a
   * tombstone; once only tombstones are left, the oldest tombstone by (updated_at_ms, key),
   * as §6.3 orders them. `kept`, the record just written, never goes.
   */
  #evictExcept(kept: string): void {
    while (this.#overLimits()) {
      const key = this.#recency.oldest()
      if (key === undefined || key === kept) break
      this.#remove(this.#records.get(key)!)
    }
    if (!this.#overLimits()) return
    // Only tombstones are left besides `kept`. Its own queue entry (if `kept` is the oldest
    // tombstone) is set aside and pushed back, so that the next oldest goes instead.
    const setAside: QueueEntry[] = []
    while (this.#overLimits()) {
      const top = this.#tombstones.pop()
      if (top === undefined) break
      const record = this.#records.get(top.key)
      if (record === undefined || !record.tombstone || record.updatedAtMs !== top.updatedAtMs) continue // stale
      if (top.key === kept) setAside.push(top)
      else this.#remove(record)
    }
    for (const entry of setAside) this.#tombstones.push(entry)
  }

  #remove(record: StoreRecord): void {
    this.#records.delete(record.key)
    this.#forget(record)
  }

  #forget(record: StoreRecord): void {
    this.#totalBytes -= chargedBytes(record)
    if (record.tombstone) this.#tombstoneCount--
    else this.#recency.delete(record.key)
  }

  #compactQueues(): void {
    const bound = 2 * this.#records.size + QUEUE_SLACK
    if (this.#expiries.size > bound) {
      this.#expiries.reset([...this.#records.values()].filter((r) => r.ttlMs > 0).map(entryOf))
    }
    if (this.#tombstones.size > bound) {
      this.#tombstones.reset([...this.#records.values()].filter((r) => r.tombstone).map(entryOf))
    }
  }
}
