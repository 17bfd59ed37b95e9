import { assertBytes } from '../_assert'
import { bufferSource, subtle } from './_subtle'

/**
 * HMAC-SHA256 (RFC 2104) on WebCrypto: the /sync MAC of PROTOCOL §5.4.
 * @throws RangeError for an empty key, which WebCrypto refuses to import (the protocol's
 *   only HMAC key, `sync_key`, is 32 bytes).
 */
export async function hmacSha256(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  assertBytes(key, 'key')
  if (key.length === 0) throw new RangeError('key: expected at least 1 byte, got 0')
  assertBytes(message, 'message')
  const crypto = subtle()
  const imported = await crypto.importKey('raw', bufferSource(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return new Uint8Array(await crypto.sign('HMAC', imported, bufferSource(message)))
}
