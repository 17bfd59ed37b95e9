/**
 * One app's namespace (PROTOCOL §6.1): its records, true LRU (§6.4), purge queues (§6.3) and
 * its share of the store's per-epoch counts (§6.10).
 */
import { compareCodePoints } from '../encoding'
import { ByteSlab } from './_byteSlab'
import type { EpochCounts } from './_epochCounts'
import { MinHeap } from './_heap'
import { HeldRecord } from './_heldRecord'
import { RecencyList } from './_recencyList'
import { WalletInterner } from './_walletInterner'
import { isSkipReason, mergeRecord, type MergeReason } from './mergeRecord'
import { isExpired, type StoreRecord } from './storeRecord'

export interface NamespaceLimits {
  /** §6.4: charged bytes, tombstones included. */
  readonly maxAppStorageBytes: number
  /** §6.4: records held, tombstones included. */
  readonly maxRecordsPerApp: number
  readonly tombstoneRetentionMs: number
  readonly maxTombstonesPerApp: number
}

// The sum can round past 2^53 only for deadlines millennia away; `isExpired` decides exactly.
const soonerDeadline = (a: HeldRecord, b: HeldRecord): boolean => a.updatedAtMs + a.ttlMs < b.updatedAtMs + b.ttlMs

// §6.3: tombstones leave oldest first by (updated_at_ms, key).
const older = (a: HeldRecord, b: HeldRecord): boolean =>
  a.updatedAtMs !== b.updatedAtMs ? a.updatedAtMs < b.updatedAtMs : compareCodePoints(a.key, b.key) < 0

// The purge queues hold the records themselves, only those that can expire (ttl > 0) or are
// tombstones, pushed on every write and never updated in place. An entry is current while its
// key holds that very record; other entries are dropped when they surface. A queue is rebuilt
// once it is more than twice the namespace, and whenever the pages are evacuated (so that no
// stale record keeps old pages alive), so memory stays O(n) and every operation O(log n)
// amortized.
const QUEUE_SLACK = 64

export class Namespace {
  readonly #limits: NamespaceLimits
  /** The store's counts of non-tombstones per key epoch, shared by its namespaces. */
  readonly #epochs: EpochCounts
  readonly #records = new Map<string, HeldRecord>()
  /** The non-tombstone records: tombstones are never evicted (§6.4). */
  readonly #recency = new RecencyList<HeldRecord>()
  readonly #expiries = new MinHeap<HeldRecord>(soonerDeadline)
  readonly #tombstones = new MinHeap<HeldRecord>(older)
  readonly #slab = new ByteSlab()
  readonly #wallets = new WalletInterner()
  #tombstoneCount = 0
  #totalBytes = 0

  constructor(limits: NamespaceLimits, epochs: EpochCounts) {
    this.#limits = limits
    this.#epochs = epochs
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
    const record = this.#records.get(key)
    if (record !== undefined && this.#recency.has(record)) this.#recency.add(record)
  }

  /**
   * Every record, in the order keys were first stored. The iterator is live (ECMAScript Map
   * iteration): a key stored after it started is still visited, a key removed before it got
   * there is not, and a record replaced under its key keeps the key's place.
   */
  records(): IterableIterator<StoreRecord> {
    return this.#records.values()
  }

  /** Whether `record` is what its key holds now: the very object, not an equal one. */
  holds(record: StoreRecord): boolean {
    return this.#records.get(record.key) === record
  }

  /** Stores a copy of `record` as the most recently used, then evicts down to the limits (§6.4). */
  write(record: StoreRecord): void {
    const held = new HeldRecord(record, this.#slab, this.#wallets)
    const previous = this.#records.get(held.key)
    if (previous !== undefined) this.#forget(previous)
    this.#records.set(held.key, held)
    this.#totalBytes += held.charged()
    if (held.tombstone) {
      this.#tombstoneCount++
      this.#tombstones.push(held)
    } else {
      this.#recency.add(held)
      this.#epochs.add(held.keyEpoch)
    }
    if (held.ttlMs > 0) this.#expiries.push(held)
    this.#compactQueues()
    this.#evictExcept(held.key)
    this.#compactPages()
  }

  /** Applies the §6.6 rule; an insert or replace counts as a write for recency and eviction. */
  merge(incoming: StoreRecord): MergeReason {
    const { reason, record } = mergeRecord(this.#records.get(incoming.key), incoming)
    if (!isSkipReason(reason)) this.write(record)
    return reason
  }

  /**
   * Replaces the value `record` holds with the same plaintext under `keyEpoch` (§6.10): only
   * the ciphertext and the key epoch change. The key keeps its clock, times, TTL, charge,
   * place in the recency order (a background re-encryption is no use of the key, §6.4) and
   * place in iteration order. No eviction can follow, since the charge is unchanged.
   * @returns the record the key now holds.
   * @throws RangeError when `record` is not what its key holds, is a tombstone, or
   *   `ciphertext` differs in length (the caller checks each: here they are bugs).
   */
  reencrypt(record: StoreRecord, ciphertext: Uint8Array, keyEpoch: number): StoreRecord {
    const previous = this.#records.get(record.key)
    if (previous !== record || previous.tombstone) throw new RangeError('Namespace.reencrypt: not a value this namespace holds')
    if (ciphertext.length !== previous.ciphertextLength) throw new RangeError('Namespace.reencrypt: the ciphertext length must not change')
    const next = new HeldRecord(
      { key: previous.key, ciphertext, clock: previous.clock, updatedAtMs: previous.updatedAtMs, tombstone: false, ttlMs: previous.ttlMs, keyEpoch },
      this.#slab,
      this.#wallets,
    )
    this.#slab.release(previous.ciphertextLength)
    this.#records.set(next.key, next)
    this.#recency.replace(previous, next)
    this.#epochs.remove(previous.keyEpoch)
    this.#epochs.add(keyEpoch)
    // The old copy's queue entry is stale now; the new one must be there to expire.
    if (next.ttlMs > 0) this.#expiries.push(next)
    this.#compactQueues()
    this.#compactPages()
    return next
  }

  /**
   * Removes every non-tombstone whose key epoch is below `epoch`, without tombstones (§6.10:
   * their epoch was wiped, so they can never be read again).
   * @returns how many were removed.
   */
  dropBelow(epoch: number): number {
    const doomed: HeldRecord[] = []
    for (const record of this.#records.values()) if (!record.tombstone && record.keyEpoch < epoch) doomed.push(record)
    for (const record of doomed) this.#remove(record)
    this.#compactQueues()
    this.#compactPages()
    return doomed.length
  }

  /** §6.3: expired records, then tombstones past retention, then the oldest over the cap. */
  purge(nowMs: number): void {
    for (let top = this.#expiries.peek(); top !== undefined; top = this.#expiries.peek()) {
      if (this.#records.get(top.key) === top) {
        if (!isExpired(top, nowMs)) break
        this.#remove(top)
      }
      this.#expiries.pop()
    }
    const { tombstoneRetentionMs, maxTombstonesPerApp } = this.#limits
    for (let top = this.#tombstones.peek(); top !== undefined; top = this.#tombstones.peek()) {
      if (this.#records.get(top.key) === top) {
        const retained = nowMs - top.updatedAtMs < tombstoneRetentionMs
        if (retained && this.#tombstoneCount <= maxTombstonesPerApp) break
        this.#remove(top)
      }
      this.#tombstones.pop()
    }
    this.#compactPages()
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
      const oldest = this.#recency.oldest()
      if (oldest === undefined || oldest.key === kept) break
      this.#remove(oldest)
    }
    if (!this.#overLimits()) return
    // Only tombstones are left besides `kept`. Its own queue entry (if `kept` is the oldest
    // tombstone) is set aside and pushed back, so that the next oldest goes instead.
    const setAside: HeldRecord[] = []
    while (this.#overLimits()) {
      const top = this.#tombstones.pop()
      if (top === undefined) break
      if (this.#records.get(top.key) !== top) continue // stale
      if (top.key === kept) setAside.push(top)
      else this.#remove(top)
    }
    for (const record of setAside) this.#tombstones.push(record)
  }

  #remove(record: HeldRecord): void {
    this.#records.delete(record.key)
    this.#forget(record)
  }

  #forget(record: HeldRecord): void {
    this.#totalBytes -= record.charged()
    this.#slab.release(record.ciphertextLength)
    if (record.tombstone) {
      this.#tombstoneCount--
    } else {
      this.#recency.delete(record)
      this.#epochs.remove(record.keyEpoch)
    }
  }

  #compactQueues(): void {
    const bound = 2 * this.#records.size + QUEUE_SLACK
    if (this.#expiries.size > bound) this.#rebuildExpiries()
    if (this.#tombstones.size > bound) this.#rebuildTombstones()
  }

  #rebuildExpiries(): void {
    this.#expiries.reset([...this.#records.values()].filter((record) => record.ttlMs > 0))
  }

  #rebuildTombstones(): void {
    this.#tombstones.reset([...this.#records.values()].filter((record) => record.tombstone))
  }

  /**
   * Once dead bytes pass half the live ones (`ByteSlab`), every record's bytes move to fresh
   * pages: O(n), after at least n/2 records' worth of bytes were released, so O(1) amortized.
   * The queues are rebuilt too, so that no stale record keeps the old pages alive.
   */
  #compactPages(): void {
    if (!this.#slab.wantsCompaction) return
    this.#slab.restart()
    for (const record of this.#records.values()) record.relocate(this.#slab)
    this.#rebuildExpiries()
    this.#rebuildTombstones()
  }
}
