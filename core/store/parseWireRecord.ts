/**
 * The boundary for records received from peers (PROTOCOL §6.7, every sync mode). Input is
 * untrusted parsed JSON: nothing here throws, and only own properties are read, so a
 * `__proto__` member is just another key that fails validation.
 */
import { isCanonicalWallet, parseHex, utf8Length, type Wallet } from '../encoding'
import { CIPHERTEXT_OVERHEAD, chargedBytes, CLOCK_ENTRY_BYTES, isKeyEpoch, isWellFormedKey, MAX_KEY_BYTES, type StoreRecord } from './storeRecord'
import { MAX_CLOCK_ENTRY, type VectorClock } from './vectorClock'

/** The §6.7 bounds that depend on the node: its time and its configuration (§11). */
export interface WireRecordRules {
  readonly nowMs: number
  /** MAX_CLOCK_SKEW_MS: how far in the future `updated_at_ms` may be. */
  readonly maxClockSkewMs: number
  /** MAX_KV_VALUE_SIZE_BYTES: a value may hold up to this plus 28 bytes (§5.3). */
  readonly maxValueSizeBytes: number
  /** MAX_APP_STORAGE_BYTES: a record charged more (§6.4) could never be held beside another. */
  readonly maxAppStorageBytes: number
}

const APP_ID = /^[1-9][0-9]*$/

/**
 * Parses a delta or snapshot group name (§6.7: a decimal integer ≥ 1). Other spellings,
 * such as leading zeros, are refused rather than rewritten.
 * @returns the app id, or `undefined`.
 */
export function parseAppId(text: string): number | undefined {
  if (!APP_ID.test(text)) return undefined
  const appId = Number(text)
  return Number.isSafeInteger(appId) ? appId : undefined
}

/**
 * Parses one §4.3 record by the §6.7 rules, except decryptability, which the caller checks
 * on the returned ciphertext under its `keyEpoch`. A tombstone gets an empty ciphertext
 * whatever its `value`; it must not name a key epoch above 0 (it was encrypted under none).
 * @returns the record, or `undefined` when it must be rejected.
 */
export function parseWireRecord(raw: unknown, rules: WireRecordRules): StoreRecord | undefined {
  if (!isObject(raw)) return undefined
  const key = own(raw, 'key')
  // A UTF-16 unit is at least one UTF-8 byte, so the length bounds the scan.
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_BYTES) return undefined
  if (utf8Length(key) > MAX_KEY_BYTES || !isWellFormedKey(key)) return undefined
  const tombstone = own(raw, 'tombstone')
  if (tombstone !== undefined && typeof tombstone !== 'boolean') return undefined
  const clock = parseClock(own(raw, 'version'), rules.maxAppStorageBytes)
  const updatedAtMs = parseMillis(own(raw, 'updated_at_ms'))
  const ttlMs = parseMillis(own(raw, 'ttl_ms'))
  const keyEpoch = parseKeyEpoch(own(raw, 'key_epoch'))
  if (clock === undefined || updatedAtMs === undefined || ttlMs === undefined || keyEpoch === undefined) return undefined
  if (tombstone === true && keyEpoch !== 0) return undefined
  if (updatedAtMs > rules.nowMs + rules.maxClockSkewMs) return undefined
  const ciphertext = tombstone === true ? new Uint8Array(0) : parseValue(own(raw, 'value'), rules.maxValueSizeBytes)
  if (ciphertext === undefined) return undefined
  const record = { key, ciphertext, keyEpoch, clock, updatedAtMs, tombstone: tombstone === true, ttlMs }
  return chargedBytes(record) > rules.maxAppStorageBytes ? undefined : record
}

function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function own(object: object, name: string): unknown {
  return Object.hasOwn(object, name) ? (object as Record<string, unknown>)[name] : undefined
}

/** Absent means 0 (§6.7); anything else must be an integer in [0, 2^53−1]. */
function parseMillis(value: unknown): number | undefined {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return undefined
  return value + 0 // a JSON `-0` is stored and sent as 0
}

/** Absent means 0 (§6.7, a node from before epochs); anything else must be an integer in 0..2^32 − 1. */
function parseKeyEpoch(value: unknown): number | undefined {
  if (value === undefined) return 0
  if (!isKeyEpoch(value)) return undefined
  return value + 0 // a JSON `-0` is epoch 0
}

/**
 * Keys must already be canonical wallets: other spellings are rejected, never rewritten.
 * Entries are integers in [1, 2^32] (MAX_CLOCK_ENTRY). A clock whose entries alone would be
 * charged more than a namespace holds (§6.4) is refused before any map is built.
 */
function parseClock(value: unknown, maxAppStorageBytes: number): VectorClock | undefined {
  if (!isObject(value)) return undefined
  const wallets = Object.keys(value)
  if (wallets.length * CLOCK_ENTRY_BYTES > maxAppStorageBytes) return undefined
  const clock = new Map<Wallet, number>()
  for (const wallet of wallets) {
    const entry = (value as Record<string, unknown>)[wallet]
    if (!isCanonicalWallet(wallet) || typeof entry !== 'number' || !Number.isInteger(entry) || entry < 1 || entry > MAX_CLOCK_ENTRY) {
      return undefined
    }
    clock.set(wallet, entry)
  }
  return clock
}

/** Hex of 28..max+28 bytes; the length is checked before decoding allocates anything. */
function parseValue(value: unknown, maxValueSizeBytes: number): Uint8Array | undefined {
  if (typeof value !== 'string') return undefined
  const digits = value.startsWith('0x') || value.startsWith('0X') ? value.length - 2 : value.length
  if (digits < 2 * CIPHERTEXT_OVERHEAD || digits > 2 * (maxValueSizeBytes + CIPHERTEXT_OVERHEAD)) return undefined
  return parseHex(value)
}
