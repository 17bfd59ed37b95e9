import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { assertBytes } from '../_assert'

/**
 * HMAC-SHA256 (RFC 2104): the /sync MAC of PROTOCOL §5.4, on every peer message. noble's,
 * for the reason `hkdfSha256` gives (no key import or thread-pool hop per message).
 * @throws RangeError for an empty key. RFC 2104 allows one, but WebCrypto refuses to import
 *   it, and the protocol's only HMAC key, `sync_key`, is 32 bytes: refusing it everywhere
 *   keeps every runtime alike.
 */
export async function hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  assertBytes(key, 'key')
  if (key.length === 0) throw new RangeError('key: expected at least 1 byte, got 0')
  assertBytes(message, 'message')
  return hmac(sha256, key, message)
}
