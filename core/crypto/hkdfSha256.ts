import { assertBytes, assertInteger } from '../_assert'
import { bufferSource, subtle } from './_subtle'

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
 * HKDF-SHA256 (RFC 5869), extract then expand, on WebCrypto. Every key of PROTOCOL §5, §8.1
 * and §10.2 comes from here.
 */
export async function hkdfSha256({ ikm, salt, info, length }: HkdfSha256Params): Promise<HkdfSha256Result> {
  assertBytes(ikm, 'ikm')
  assertBytes(salt, 'salt')
  assertBytes(info, 'info')
  assertInteger(length, 'length', 1, 255 * 32)
  const crypto = subtle()
  const key = await crypto.importKey('raw', bufferSource(ikm), 'HKDF', false, ['deriveBits'])
  const bits = await crypto.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: bufferSource(salt), info: bufferSource(info) },
    key,
    length * 8,
  )
  return new Uint8Array(bits)
}
