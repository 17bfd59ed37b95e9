/** Shared fixtures for the store suites: a settable clock, wallets, ciphertexts and stores. */
import type { Wallet } from '../../../core/encoding'
import type { Clock } from '../../../core/runtime'
import { CLOCK_ENTRY_BYTES, KvStore, RECORD_OVERHEAD_BYTES, type KvStoreLimits, type StoreRecord, type VectorClock } from '../../../core/store'

export const A = `0x${'a'.repeat(40)}` as Wallet
export const B = `0x${'b'.repeat(40)}` as Wallet
export const C = `0x${'c'.repeat(40)}` as Wallet

/** 2026-01-01T00:00:00Z, so that no test depends on the epoch. */
export const T0 = 1_767_225_600_000

export class FakeClock implements Clock {
  constructor(public now: number = T0) {}
  nowMs(): number {
    return this.now
  }
  advance(ms: number): void {
    this.now += ms
  }
}

/** The PROTOCOL §11 defaults. */
export const DEFAULT_LIMITS: KvStoreLimits = {
  maxAppStorageBytes: 10_485_760,
  maxValueSizeBytes: 1_048_576,
  tombstoneRetentionMs: 86_400_000,
  maxTombstonesPerApp: 10_000,
  maxClockSkewMs: 15_000,
  maxRecordsPerApp: 50_000,
}

/**
 * The §6.4 charge of a record, written out: key bytes + ciphertext bytes + the per-record
 * overhead + the per-clock-entry charge (one entry by default, as a first local write has).
 */
export function charge(keyBytes: number, ciphertextBytes: number, clockEntries = 1): number {
  return keyBytes + ciphertextBytes + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * clockEntries
}

export function makeStore(options: { wallet?: Wallet; limits?: Partial<KvStoreLimits>; clock?: FakeClock } = {}) {
  const clock = options.clock ?? new FakeClock()
  const wallet = options.wallet ?? A
  const store = new KvStore({
    clock,
    nodeWallet: () => wallet,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
  })
  return { store, clock }
}

/** The first byte that the test `canDecrypt` refuses: it stands for a foreign data key. */
export const UNDECRYPTABLE = 0xbd

/** The unit-test stand-in for "decrypts under data_key(app)" (§6.7); real AES-GCM is integrated later. */
export const canDecrypt = async (_appId: number, ciphertext: Uint8Array): Promise<boolean> =>
  ciphertext[0] !== UNDECRYPTABLE

/** A ciphertext of `length` bytes (28 = empty plaintext, §5.3) whose bytes all equal `fill`. */
export function ciphertext(fill: number, length = 28): Uint8Array {
  return new Uint8Array(length).fill(fill)
}

export function vclock(entries: Partial<Record<Wallet, number>>): VectorClock {
  return new Map(Object.entries(entries) as [Wallet, number][])
}

export function record(fields: Partial<StoreRecord> & { key?: string }): StoreRecord {
  return {
    key: 'k',
    ciphertext: fields.tombstone ? new Uint8Array(0) : ciphertext(1),
    keyEpoch: 0,
    clock: vclock({ [A]: 1 }),
    updatedAtMs: T0,
    tombstone: false,
    ttlMs: 0,
    ...fields,
  }
}

/** A plain view of a record for `toEqual`: clocks as sorted entries, bytes as arrays. */
export function view(record: StoreRecord | undefined) {
  if (record === undefined) return undefined
  return {
    key: record.key,
    ciphertext: [...record.ciphertext],
    clock: Object.fromEntries([...record.clock].sort(([x], [y]) => (x < y ? -1 : 1))),
    updatedAtMs: record.updatedAtMs,
    tombstone: record.tombstone,
    ttlMs: record.ttlMs,
  }
}
