/** The stored record (PROTOCOL §6.1). The store holds ciphertexts only (§5.3). */
import { utf8Length } from '../encoding'
import type { VectorClock } from './vectorClock'

/** §5.3: nonce (12) ‖ AES-GCM ciphertext ‖ tag (16), so a stored value is ≥ 28 bytes. */
export const CIPHERTEXT_OVERHEAD = 28

/** §12.3: keys are 1..1024 UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024

/**
 * §6.4: the bytes charged for holding one record besides its key, its ciphertext and its
 * clock entries: the record object (core/store/_heldRecord.ts), its entry in the namespace's
 * map, its share of the ciphertext pages, its purge-queue entries. A protocol constant, so
 * that every node charges alike: it is not lowered when a node holds records more cheaply.
 * bench/recordOverhead.ts (Node 20, 131,073 records, heap + array buffers after GC) measured,
 * beyond the key and ciphertext of a record with one clock entry, 200–212 bytes, 230 with a
 * TTL and a stale purge-queue entry, and 408 when 1024-byte values (the largest kept in shared
 * pages) were each written twice. Released bytes wait in the pages until they pass half the
 * live ones (_byteSlab.ts), so that case is bounded by about 230 + 512 = 742, still below
 * 768 + 128 = 896; every measured case kept at least 488 bytes of margin. (Before records were
 * packed, with a Map clock, an ArrayBuffer per value and a recency node per key: 604–654 and 786.)
 */
export const RECORD_OVERHEAD_BYTES = 768

/**
 * §6.4: the bytes charged for each entry of a record's clock. Measured: 94 bytes per entry
 * when every wallet is a string of its own (a hostile peer's clocks), 26 when wallets are
 * shared (before packing: 117 and 49); rounded up.
 */
export const CLOCK_ENTRY_BYTES = 128

/** The largest key epoch a record may name (§4.3 `key_epoch`, §6.7): 2^32 − 1. */
export const MAX_KEY_EPOCH = 2 ** 32 - 1

/** Whether `epoch` is a key epoch (§6.7): an integer in 0..2^32 − 1. */
export function isKeyEpoch(epoch: unknown): epoch is number {
  return typeof epoch === 'number' && Number.isInteger(epoch) && epoch >= 0 && epoch <= MAX_KEY_EPOCH
}

/** One key's record. A tombstone has an empty ciphertext and key epoch 0 (§6.2, §6.6). */
export interface StoreRecord {
  readonly key: string
  readonly ciphertext: Uint8Array
  /**
   * The cluster epoch whose `data_key(app, epoch)` encrypted `ciphertext` (§6.1, §6.10), so a
   * reader decrypts under the right key; 0 for a tombstone and for every record written
   * before epochs existed. Not charged (§6.4): it lives in a field the record has anyway.
   */
  readonly keyEpoch: number
  readonly clock: VectorClock
  readonly updatedAtMs: number
  readonly tombstone: boolean
  /** 0 means no expiry. */
  readonly ttlMs: number
}

/** `ttl_ms > 0 && now_ms > updated_at_ms + ttl_ms` (PROTOCOL §6.1), tombstones included. */
export function isExpired(record: StoreRecord, nowMs: number): boolean {
  // Subtracting keeps the comparison exact even when updated_at_ms + ttl_ms passes 2^53.
  return record.ttlMs > 0 && nowMs - record.updatedAtMs > record.ttlMs
}

/**
 * §6.4: what holding `record` counts against MAX_APP_STORAGE_BYTES, tombstones included:
 * `keyBytes(key) + |ciphertext| + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES × |version|`.
 * It depends on the record alone, so every node charges the same record alike.
 */
export function chargedBytes(record: StoreRecord): number {
  return chargeFor(record.key, record.ciphertext.length, record.clock.size)
}

/** `chargedBytes` from its inputs, for a held record that keeps its fields packed. */
export function chargeFor(key: string, ciphertextBytes: number, clockEntries: number): number {
  return keyBytes(key) + ciphertextBytes + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * clockEntries
}

/**
 * §6.4: a key's charged bytes: its UTF-8 length, or twice its UTF-16 length when that is
 * larger and the key has a character above U+00FF (engines then hold the whole key as
 * UTF-16: one such character among 1022 ASCII ones is 1024 UTF-8 bytes but 2046 in memory).
 */
export function keyBytes(key: string): number {
  let wide = false
  for (let index = 0; index < key.length && !wide; index++) wide = key.charCodeAt(index) > 0xff
  const utf8 = utf8Length(key)
  return wide ? Math.max(utf8, 2 * key.length) : utf8
}

/**
 * Whether `key` is well-formed UTF-16: no lone surrogate (§2.5, §6.7). A lone surrogate has
 * no UTF-8 form, so two such keys would become one U+FFFD key on a replica.
 * (`String.prototype.isWellFormed`, which ES2022 typings do not have.)
 */
export function isWellFormedKey(key: string): boolean {
  for (let index = 0; index < key.length; index++) {
    const code = key.charCodeAt(index)
    if (code < 0xd800 || code > 0xdfff) continue
    if (code > 0xdbff) return false // a low surrogate without its high one
    const next = key.charCodeAt(index + 1) // NaN past the end
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false
    index++
  }
  return true
}
