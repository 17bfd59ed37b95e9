/**
 * `core/store`: the encrypted, replicated, in-memory key/value store (PROTOCOL §6). It owns
 * vector clocks, records, the §6.6 merge rule, per-app namespaces (true LRU, TTL, tombstones,
 * limits on charged bytes and records), the §4.3 wire form of records with its §6.7 validation, the §6.8 body split,
 * and the key epoch of every record with the §6.10 re-encryption to a newer one.
 * It holds ciphertexts only: encryption and the decryptability check come from the caller.
 *
 * @module
 */
export { compareClocks, mergeClocks, incrementClock, canIncrement, MAX_CLOCK_ENTRY, type VectorClock, type ClockOrder } from './vectorClock'
export { isExpired, chargedBytes, keyBytes, isWellFormedKey, isKeyEpoch, RECORD_OVERHEAD_BYTES, CLOCK_ENTRY_BYTES, MAX_KEY_EPOCH, type StoreRecord } from './storeRecord'
export { mergeRecord, isSkipReason, type MergeReason, type SkipReason, type MergeOutcome } from './mergeRecord'
export { KvStore, DEFAULT_MAX_RECORDS_PER_APP, type KvStoreOptions, type KvStoreLimits, type StoreStats } from './kvStore'
export type { CanDecrypt, IngestResult } from './_ingest'
export type { ReencryptBatchParams, ReencryptBatchResult, ReencryptObserver } from './_reencryption'
export { toWireRecord, type WireRecord, type WireData } from './wireRecord'
export { parseWireRecord, parseAppId, type WireRecordRules } from './parseWireRecord'
export { splitDelta } from './splitDelta'
export { snapshotPage, type SnapshotCursor, type SnapshotPage, type SnapshotSource } from './snapshotPage'
export { createAppValues, type AppValues, type AppValue, type AppValueCipher, type AppValuesOptions } from './appValues'
