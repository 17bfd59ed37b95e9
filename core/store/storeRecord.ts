/** The stored record (PROTOCOL §6.1). The store holds ciphertexts only (§5.3). */
import type { VectorClock } from './vectorClock'

/** §5.3: nonce (12) ‖ AES-GCM ciphertext ‖ tag (16), so a stored value is ≥ 28 bytes. */
export const CIPHERTEXT_OVERHEAD = 28

/** §12.3: keys are 1..1024 UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024

/** One key's record. A tombstone has an empty ciphertext (§6.2, §6.6). */
export interface StoreRecord {
  readonly key: string
  readonly ciphertext: Uint8Array
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
