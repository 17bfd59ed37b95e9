import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { assertBytes, assertInteger } from '../_assert'

export interface HkdfSha256Params {
  /** Input keying material. */
  ikm: Uint8Array
  salt: Uint8Array
  info: Uint8Array
  /** Output length in bytes, 1..8160 (255 · HashLen, RFC 5869 §2.3). */
  length: number
}

export type HkdfSha256Result = Uint8Array

/**
 * HKDF-SHA256 (RFC 5869), extract then expand. Every key of PROTOCOL §5, §8.1 and §10.2
 * comes from here, up to three times per request (the derived key and both envelope keys).
 *
 * Computed with noble's HMAC-SHA256, not WebCrypto: the inputs are a few dozen bytes, and
 * WebCrypto's HKDF in Node pays a key import and a thread-pool round trip per call (about
 * 110 µs of CPU here, against about 10 µs for the same bytes in noble; bench/_floor.ts
 * measures both sides). SHA-256 has no data-dependent branches or table lookups, so the
 * synchronous path leaks no more timing than WebCrypto's. The result is the same byte for
 * byte (test/unit/crypto/rfc5869-hkdf.test.ts checks RFC 5869 Appendix A). It stays async so
 * that callers need not change if a runtime ever wants WebCrypto back.
 */
export async function hkdfSha256({ ikm, salt, info, length }: HkdfSha256Params): Promise<HkdfSha256Result> {
  assertBytes(ikm, 'ikm')
  assertBytes(salt, 'salt')
  assertBytes(info, 'info')
  assertInteger(length, 'length', 1, 255 * 32)
  return hkdf(sha256, ikm, salt, info, length)
}
