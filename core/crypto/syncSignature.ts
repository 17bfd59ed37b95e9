/**
 * `X-Sync-Signature` (PROTOCOL §5.4): `hex(HMAC-SHA256(sync_key, UTF-8(canonical_json(body))))`
 * over the wire envelope, as sent (§4.1 step 4) and as received (§4.2 step 7).
 */
import { bytesToHex, canonicalJson, constantTimeEqual, parseHex, utf8ToBytes, type JsonValue } from '../encoding'
import { assertBytes } from '../_assert'
import { hmacSha256 } from './hmacSha256'

/**
 * What the MAC covers: v1 the canonical envelope alone; v2 (§3.6) the request's
 * `X-KMS-Nonce` first, so an old body cannot be replayed under fresh headers.
 */
function macInput(canonicalEnvelope: string, nonce: string | undefined): Uint8Array {
  return utf8ToBytes(nonce === undefined ? canonicalEnvelope : `${nonce}\n${canonicalEnvelope}`)
}

/**
 * Signs the wire envelope a requester is about to send; with `nonce`, the v2 MAC of §3.6.
 * @returns 64 lowercase hex digits.
 */
export async function computeSyncSignature(syncKey: Uint8Array, envelope: JsonValue, nonce?: string): Promise<string> {
  assertBytes(syncKey, 'syncKey', 32)
  return bytesToHex(await hmacSha256(syncKey, macInput(canonicalJson(envelope), nonce)))
}

export interface VerifySyncSignatureParams {
  syncKey: Uint8Array
  /** The received body, as parsed from JSON. */
  body: unknown
  /** The `X-Sync-Signature` header: hex, `0x` optional, either case (§0). */
  signature: string
  /** v2 (§3.6): the request's `X-KMS-Nonce`, which the MAC covers too. */
  nonce?: string
}

/**
 * Checks a received `X-Sync-Signature` in constant time.
 * @returns `false` for hex that is not 32 bytes (§4.2 step 7: `Invalid HMAC signature`), for
 *   a body canonical JSON cannot hold (a non-integer number, or nesting deeper than 64: no
 *   peer can have signed it under §0), or for a MAC mismatch.
 */
export async function verifySyncSignature({ syncKey, body, signature, nonce }: VerifySyncSignatureParams): Promise<boolean> {
  assertBytes(syncKey, 'syncKey', 32)
  const claimed = parseHex(signature)
  if (claimed === undefined || claimed.length !== 32) return false
  let canonical: string
  try {
    canonical = canonicalJson(body)
  } catch (error) {
    if (error instanceof RangeError) return false
    throw error
  }
  return constantTimeEqual(await hmacSha256(syncKey, macInput(canonical, nonce)), claimed)
}
