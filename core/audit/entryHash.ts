/**
 * `entry_hash = sha256(prev_hash ‖ utf8(canonical_json(entry)))` (PROTOCOL §14.1). The node
 * and every client verifier compute it here, so both sides hash the same bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, canonicalJson, parseHex } from '../encoding'
import type { AuditEntry } from './types'

/** The `prev_hash` of a chain's first entry: 32 zero bytes. */
export const AUDIT_GENESIS_HASH = '0'.repeat(64)

/** The entry's hash after `prevHashHex` (64 lowercase hex digits). */
export function computeAuditEntryHash(prevHashHex: string, entry: AuditEntry): string {
  const prev = parseHex(prevHashHex)
  if (prev === undefined || prev.length !== 32) throw new RangeError('audit: prev_hash must be 32 bytes')
  const body = new TextEncoder().encode(canonicalJson(entry))
  const input = new Uint8Array(32 + body.length)
  input.set(prev)
  input.set(body, 32)
  return bytesToHex(sha256(input))
}
