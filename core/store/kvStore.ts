/** The encrypted per-app key/value store (PROTOCOL §6): one namespace per app id. */
import { compareCodePoints, utf8Length, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Clock } from '../runtime'
import { EpochCounts } from './_epochCounts'
import { Namespace } from './_namespace'
import { ingestWireData, type CanDecrypt, type IngestResult } from './_ingest'
import { reencryptBatch, ReencryptionCursor, type ReencryptBatchParams, type ReencryptBatchResult, type ReencryptObserver } from './_reencryption'
import { snapshotPage as readSnapshotPage, type SnapshotCursor, type SnapshotPage } from './snapshotPage'
import { isSkipReason, type MergeReason } from './mergeRecord'
import { CIPHERTEXT_OVERHEAD, isKeyEpoch, isWellFormedKey, MAX_KEY_BYTES, MAX_KEY_EPOCH, type StoreRecord } from './storeRecord'
import { canIncrement, incrementClock, type VectorClock } from './vectorClock'
import { toWireRecord, type WireData, type WireRecord } from './wireRecord'

/**
 * What a sync peer learns from one ingest beyond the §4.3 counts (PROTOCOL §6.8): which
 * records changed the store, and which were refused for running ahead of this node's clock.
 */
export interface IngestObserver {
  /** A record the §6.6 merge stored (inserted or replaced), as given, with its reason. */
  stored?(appId: number, record: StoreRecord, reason: MergeReason): void
  /** The `updated_at_ms` of each record refused because it is more than MAX_CLOCK_SKEW_MS ahead (§6.7). */
  refusedAhead?(updatedAtMs: number): void
}

/** The §11 default of MAX_RECORDS_PER_APP, for stores built without it. */
export const DEFAULT_MAX_RECORDS_PER_APP = 50_000

/** The §11 knobs the store enforces. */
export interface KvStoreLimits {
  /** MAX_APP_STORAGE_BYTES: charged bytes per namespace (§6.4, `chargedBytes`) before LRU eviction. */
  readonly maxAppStorageBytes: number
  /**
   * MAX_RECORDS_PER_APP: records per namespace, tombstones included, before LRU eviction
   * (§6.4); at least 1. Absent: DEFAULT_MAX_RECORDS_PER_APP.
   */
  readonly maxRecordsPerApp?: number
  /** MAX_KV_VALUE_SIZE_BYTES: plaintext bytes; a ciphertext is 28 bytes longer (§5.3). */
  readonly maxValueSizeBytes: number
  /** TOMBSTONE_RETENTION_MS (§6.3). */
  readonly tombstoneRetentionMs: number
  /** MAX_TOMBSTONES_PER_APP (§6.3). */
  readonly maxTombstonesPerApp: number
  /** MAX_CLOCK_SKEW_MS: future skew allowed on synced records (§6.7). */
  readonly maxClockSkewMs: number
}

/** What a `KvStore` is built from: the injected clock (DESIGN §3), the node wallet and §11 limits. */
export interface KvStoreOptions {
  readonly clock: Clock
  /**
   * The node's current wallet, whose clock entry local writes increment (§6.2). A getter,
   * because the wallet is learnt, and may change, in `node_tick` (§7.1 step 1).
   */
  readonly nodeWallet: () => Wallet | undefined
  readonly limits: KvStoreLimits
}

/** Store figures after a purge; `total_keys` counts live records, `total_bytes` is §6.4's. */
export interface StoreStats {
  namespaces: number
  total_keys: number
  total_bytes: number
}

/**
 * Every app's namespace on this node (PROTOCOL §6). It stores ciphertexts only: callers
 * encrypt with `data_key(app, epoch)` before `put` and decrypt under the record's `keyEpoch`
 * after `get` (§5.3, §6.10).
 */
export class KvStore {
  readonly #clock: Clock
  readonly #nodeWallet: () => Wallet | undefined
  readonly #limits: Required<KvStoreLimits>
  readonly #namespaces = new Map<number, Namespace>()
  readonly #epochs = new EpochCounts()
  readonly #reencryption = new ReencryptionCursor(this.#namespaces)

  /**
   * @throws RangeError when a limit is not a safe integer ≥ 0 (`maxRecordsPerApp` ≥ 1), or one
   *   maximal ciphertext cannot fit a namespace.
   */
  constructor(options: KvStoreOptions) {
    const limits = { ...options.limits, maxRecordsPerApp: options.limits.maxRecordsPerApp ?? DEFAULT_MAX_RECORDS_PER_APP }
    assertLimits(limits)
    this.#clock = options.clock
    this.#nodeWallet = options.nodeWallet
    this.#limits = limits
  }

  /**
   * Local put (§6.2): the stored clock (even a tombstone's or an unpurged expired record's)
   * with the own entry incremented. The caller has checked the key's length and the
   * plaintext size, and encrypted under `data_key(appId, keyEpoch)`: its serving epoch
   * (§7.7; 0 before any rotation).
   * @throws KmsError 400 `Invalid 'key'` for a key with a lone surrogate (§2.5); 400
   *   `Key version limit reached` when the own clock entry is at 2^32 (§6.5);
   *   `service_unavailable` while the node has no wallet; RangeError for an invalid app id,
   *   key length, TTL or key epoch, or a ciphertext outside 28..max+28 bytes.
   */
  put(appId: number, key: string, ciphertext: Uint8Array, ttlMs: number, keyEpoch = 0): StoreRecord {
    if (key.length === 0 || utf8Length(key) > MAX_KEY_BYTES) throw new RangeError('put: key must be 1..1024 UTF-8 bytes')
    checkWellFormed(key)
    if (!Number.isSafeInteger(ttlMs) || ttlMs < 0) throw new RangeError('put: ttlMs must be a safe integer >= 0')
    if (!isKeyEpoch(keyEpoch)) throw new RangeError('put: keyEpoch must be an integer in 0..2^32-1')
    // The caller checks the plaintext (§2.5); this keeps an oversized value out regardless.
    const maxLength = this.#limits.maxValueSizeBytes + CIPHERTEXT_OVERHEAD
    if (ciphertext.length < CIPHERTEXT_OVERHEAD || ciphertext.length > maxLength) {
      throw new RangeError(`put: ciphertext must be 28..${maxLength} bytes, got ${ciphertext.length}`)
    }
    const wallet = this.#writer()
    const namespace = this.#namespace(appId, true)
    const previous = namespace.find(key) // no purge here: §6.2 counts an expired record's clock
    const clock = nextClock(previous?.clock ?? new Map(), wallet)
    const record = { key, ciphertext, keyEpoch, clock, updatedAtMs: successorTime(previous, this.#clock.nowMs()), tombstone: false, ttlMs }
    namespace.write(record)
    return record
  }

  /**
   * Local delete (§6.2): purge, then replace the live record with a tombstone.
   * @throws KmsError 400 `Invalid 'key'` for a key with a lone surrogate; `not_found` if the
   *   key is absent, a tombstone or expired; 400 `Key version limit reached` (see `put`);
   *   `service_unavailable` while the node has no wallet.
   */
  delete(appId: number, key: string): StoreRecord {
    checkWellFormed(key)
    const wallet = this.#writer()
    const namespace = this.#namespace(appId, false)
    const nowMs = this.#clock.nowMs()
    namespace?.purge(nowMs)
    const previous = namespace?.find(key)
    if (namespace === undefined || previous === undefined || previous.tombstone) throw notFound(key)
    const clock = nextClock(previous.clock, wallet)
    const tombstone = { key, ciphertext: new Uint8Array(0), keyEpoch: 0, clock, updatedAtMs: successorTime(previous, nowMs), tombstone: true, ttlMs: 0 }
    namespace.write(tombstone)
    return tombstone
  }

  /**
   * The live record under `key`, which becomes the most recently used (§6.3, §6.4). Decrypt
   * it under its `keyEpoch`: a store holds records of every live epoch while it re-encrypts.
   * @throws KmsError 400 `Invalid 'key'` for a key with a lone surrogate; `not_found` if the
   *   key is absent, a tombstone or expired.
   */
  get(appId: number, key: string): StoreRecord {
    checkWellFormed(key)
    const namespace = this.#namespace(appId, false)
    namespace?.purge(this.#clock.nowMs())
    const record = namespace?.find(key)
    if (namespace === undefined || record === undefined || record.tombstone) throw notFound(key)
    namespace.touch(key)
    return record
  }

  /** The live keys of an app, sorted by code point (§2.5); recency is untouched (§6.4). */
  list(appId: number): string[] {
    const namespace = this.#namespace(appId, false)
    if (namespace === undefined) return []
    namespace.purge(this.#clock.nowMs())
    const keys: string[] = []
    // Purged, so every non-tombstone is live.
    for (const record of namespace.records()) if (!record.tombstone) keys.push(record.key)
    return keys.sort(compareCodePoints)
  }

  /** Namespaces, live keys and §6.4 bytes, after purging every namespace. */
  stats(): StoreStats {
    this.#purgeAll()
    const stats: StoreStats = { namespaces: this.#namespaces.size, total_keys: 0, total_bytes: 0 }
    for (const namespace of this.#namespaces.values()) {
      stats.total_keys += namespace.nonTombstoneCount
      stats.total_bytes += namespace.totalBytes
    }
    return stats
  }

  /** Drops every record: for a node that replaces a different master secret (§7.1 step 7). */
  clear(): void {
    this.#namespaces.clear()
    this.#epochs.clear()
    this.#reencryption.reset()
  }

  /**
   * The non-tombstone records held whose key epoch is below `epoch` (§6.10), from counters:
   * O(epochs held), no scan and no purge, so an expired record not yet purged still counts
   * (`reencryptBatch` purges first).
   * @throws RangeError unless `epoch` is an integer in 0..2^32.
   */
  recordsBelowEpoch(epoch: number): number {
    checkEpochBound(epoch, 'recordsBelowEpoch')
    return this.#epochs.below(epoch)
  }

  /**
   * Re-encrypts at most `limit` values below `targetEpoch` to it (§6.10), going on where the
   * previous batch stopped. Only `ciphertext` and `keyEpoch` change: the clock,
   * `updated_at_ms`, TTL, charge and recency stay (a background re-encryption is no use of a
   * key, §6.4), and nothing is made a change that §6.8 pushes (each node re-encrypts its own
   * copy; with the deterministic nonce of §6.10 they come out byte for byte alike). Purges
   * first (§6.3). Never throws for a record: see `ReencryptBatchResult`. `observer` hears of
   * each record replaced, as it happens (the §6.8 journal must, see `ReencryptObserver`).
   * @throws RangeError for an invalid `targetEpoch` or `limit`.
   */
  reencryptBatch(params: ReencryptBatchParams, observer?: ReencryptObserver): Promise<ReencryptBatchResult> {
    this.#purgeAll()
    return reencryptBatch({ namespaces: this.#namespaces, epochs: this.#epochs, cursor: this.#reencryption }, params, observer)
  }

  /**
   * Removes every non-tombstone below `epoch` (§6.10): for a node that wiped a retired epoch
   * (§7.7 step 1), whose records can never be read again. They go without a tombstone: a
   * tombstone would replicate a deletion no client made, and delete the key on every replica,
   * including those that re-encrypted it in time and can still read it; removed silently, the
   * key comes back from such a peer. Tombstones stay (they hold no ciphertext).
   * @returns how many records were removed.
   * @throws RangeError unless `epoch` is an integer in 0..2^32.
   */
  dropRecordsBelowEpoch(epoch: number): number {
    checkEpochBound(epoch, 'dropRecordsBelowEpoch')
    if (this.#epochs.below(epoch) === 0) return 0
    let dropped = 0
    for (const [appId, namespace] of this.#namespaces) {
      dropped += namespace.dropBelow(epoch)
      if (namespace.size === 0) this.#namespaces.delete(appId)
    }
    return dropped
  }

  /**
   * Merges an already validated record (§6.6); an insert or replace refreshes recency and
   * may evict (§6.4). No purge runs.
   * @throws RangeError for an invalid app id.
   */
  merge(appId: number, record: StoreRecord): MergeReason {
    return this.#namespace(appId, true).merge(record)
  }

  /** §6.8 step 2: every record, tombstones included, with `since < updated_at_ms ≤ now`. */
  selectDelta(sinceMs: number): WireData {
    return this.#export((record, nowMs) => sinceMs < record.updatedAtMs && record.updatedAtMs <= nowMs)
  }

  /**
   * The §4.3 wire form of the record under `key`, whatever its state, or `undefined`. No purge
   * and no recency refresh (§6.4): the sync tick reads what it is about to push.
   */
  peekWire(appId: number, key: string): WireRecord | undefined {
    const record = this.#namespaces.get(appId)?.find(key)
    return record === undefined ? undefined : toWireRecord(record)
  }

  /** The §4.3 `snapshot_request` answer: every record after purging, tombstones included. */
  snapshot(): WireData {
    return this.#export(() => true)
  }

  /** One bounded page of the snapshot, after `after`, once purged (§4.3 paginated `snapshot_request`). */
  snapshotPage(after: SnapshotCursor | null, maxBytes: number): SnapshotPage {
    this.#purgeAll()
    return readSnapshotPage(this.#namespaces, after, maxBytes)
  }

  /**
   * Validates (§6.7) and merges (§6.6) the `data` of a delta or snapshot, record by record,
   * and returns the §4.3 answer counts. Never throws on any `data`: a non-object, or a group
   * that is not an array, counts nothing. `canDecrypt` must resolve `false` on failure.
   */
  async ingest(data: unknown, canDecrypt: CanDecrypt, observer?: IngestObserver): Promise<IngestResult> {
    const { maxClockSkewMs, maxValueSizeBytes, maxAppStorageBytes } = this.#limits
    const rules = { nowMs: this.#clock.nowMs(), maxClockSkewMs, maxValueSizeBytes, maxAppStorageBytes }
    if (observer?.refusedAhead !== undefined) reportRefusedAhead(data, rules.nowMs + maxClockSkewMs, observer.refusedAhead)
    const merge = (appId: number, record: StoreRecord): MergeReason => {
      const reason = this.merge(appId, record)
      if (!isSkipReason(reason)) observer?.stored?.(appId, record, reason)
      return reason
    }
    return ingestWireData(data, { rules, canDecrypt, merge })
  }

  #export(select: (record: StoreRecord, nowMs: number) => boolean): WireData {
    const nowMs = this.#purgeAll()
    const data: WireData = {}
    for (const [appId, namespace] of this.#namespaces) {
      const records = [...namespace.records()].filter((record) => select(record, nowMs))
      if (records.length === 0) continue
      records.sort((a, b) => compareCodePoints(a.key, b.key))
      data[String(appId)] = records.map(toWireRecord)
    }
    return data
  }

  /** Purges every namespace and forgets the empty ones; returns the `now_ms` it used. */
  #purgeAll(): number {
    const nowMs = this.#clock.nowMs()
    for (const [appId, namespace] of this.#namespaces) {
      namespace.purge(nowMs)
      if (namespace.size === 0) this.#namespaces.delete(appId)
    }
    return nowMs
  }

  /** Local writes need the own wallet; without one the node is not available (§7.3). */
  #writer(): Wallet {
    const wallet = this.#nodeWallet()
    if (wallet === undefined) throw new KmsError('service_unavailable', 'cannot read node wallet')
    return wallet
  }

  #namespace(appId: number, create: true): Namespace
  #namespace(appId: number, create: false): Namespace | undefined
  #namespace(appId: number, create: boolean): Namespace | undefined {
    if (!Number.isSafeInteger(appId) || appId < 1) throw new RangeError('KvStore: appId must be a safe integer >= 1')
    let namespace = this.#namespaces.get(appId)
    if (namespace === undefined && create) {
      namespace = new Namespace(this.#limits, this.#epochs)
      this.#namespaces.set(appId, namespace)
    }
    return namespace
  }
}

/**
 * The time of a local write (§6.2 says `now_ms`). Deviation, documented in the README: a
 * write is stamped at least 1 ms after the record it supersedes, so that a causal successor
 * made in the same millisecond can never lose the §6.6 tie-break to its own predecessor
 * (which would lose an acknowledged write once the predecessor's clock has been merged).
 */
function successorTime(previous: StoreRecord | undefined, nowMs: number): number {
  return previous === undefined ? nowMs : Math.max(nowMs, previous.updatedAtMs + 1)
}

/**
 * §6.7 refuses every record whose `updated_at_ms` is beyond `latestMs` (now + MAX_CLOCK_SKEW_MS),
 * whatever else it holds: this names each one, by the same test, without parsing the rest.
 */
function reportRefusedAhead(data: unknown, latestMs: number, report: (updatedAtMs: number) => void): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return
  for (const group of Object.values(data as Record<string, unknown>)) {
    if (!Array.isArray(group)) continue
    for (const raw of group as unknown[]) {
      const updatedAtMs = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)['updated_at_ms'] : undefined
      if (typeof updatedAtMs === 'number' && Number.isSafeInteger(updatedAtMs) && updatedAtMs > latestMs) report(updatedAtMs)
    }
  }
}

/** An epoch bound (§6.10): every key epoch, or 2^32 for "all of them". */
function checkEpochBound(epoch: number, name: string): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > MAX_KEY_EPOCH + 1) throw new RangeError(`${name}: epoch must be an integer in 0..2^32`)
}

/** §2.5: a key with a lone surrogate has no UTF-8 form, so replicas could not agree on it. */
function checkWellFormed(key: string): void {
  if (!isWellFormedKey(key)) throw new KmsError('bad_request', "Invalid 'key'")
}

/** The clock of a local write (§6.2), refused with a 400 once the own entry is at 2^32 (§6.5). */
function nextClock(clock: VectorClock, wallet: Wallet): VectorClock {
  if (!canIncrement(clock, wallet)) throw new KmsError('bad_request', 'Key version limit reached')
  return incrementClock(clock, wallet)
}

function notFound(key: string): KmsError {
  return new KmsError('not_found', `Key not found: ${key}`)
}

function assertLimits(limits: Required<KvStoreLimits>): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`KvStore: ${name} must be a safe integer >= 0`)
  }
  if (limits.maxRecordsPerApp < 1) throw new RangeError('KvStore: maxRecordsPerApp must be >= 1')
  // The record just written is never evicted (§6.4), so it alone must fit.
  if (limits.maxAppStorageBytes < limits.maxValueSizeBytes + CIPHERTEXT_OVERHEAD) {
    throw new RangeError('KvStore: maxAppStorageBytes must hold one maximal ciphertext (maxValueSizeBytes + 28)')
  }
}
