/** The record as it travels in `/sync` bodies (PROTOCOL §4.3). */
import { bytesToHex, type Wallet } from '../encoding'
import type { StoreRecord } from './storeRecord'

/** `{"key","value":hex|null,"key_epoch"?:int,"version":{W:int},"updated_at_ms","tombstone","ttl_ms"}` (§4.3). */
export interface WireRecord {
  key: string
  /** The ciphertext (§5.3) in lowercase hex without `0x`; `null` for a tombstone. */
  value: string | null
  /**
   * The epoch of the data key that encrypted `value` (§4.3, §6.10). Sent only when above 0,
   * so an epoch-0 record is byte for byte what a node from before epochs sends and reads.
   */
  key_epoch?: number
  version: Record<Wallet, number>
  updated_at_ms: number
  tombstone: boolean
  ttl_ms: number
}

/** `data` of a delta or snapshot: decimal app id → records (§4.3). */
export type WireData = Record<string, WireRecord[]>

/** The §4.3 wire form of a stored record. */
export function toWireRecord(record: StoreRecord): WireRecord {
  return {
    key: record.key,
    value: record.tombstone ? null : bytesToHex(record.ciphertext),
    ...(record.keyEpoch > 0 ? { key_epoch: record.keyEpoch } : {}),
    version: Object.fromEntries(record.clock) as Record<Wallet, number>,
    updated_at_ms: record.updatedAtMs,
    tombstone: record.tombstone,
    ttl_ms: record.ttlMs,
  }
}
