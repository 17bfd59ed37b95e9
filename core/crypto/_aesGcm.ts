/**
 * AES-256-GCM with a 12-byte nonce, a 16-byte tag and no AAD (PROTOCOL §5.1), shared by
 * records (§5.3), the envelope cipher (§10.2) and master-secret sealing (§5.5).
 */
import { assertBytes } from '../_assert'
import { bufferSource, subtle } from './_subtle'

export const AES_GCM_NONCE_LENGTH = 12
export const AES_GCM_TAG_LENGTH = 16

/** Imports a 32-byte key, non-extractable, for both directions. */
export async function importAesGcmKey(raw: Uint8Array, field: string): Promise<CryptoKey> {
  assertBytes(raw, field, 32)
  return subtle().importKey('raw', bufferSource(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
}

/** @returns ciphertext ‖ tag. */
export async function aesGcmSeal(key: CryptoKey, nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  assertBytes(nonce, 'nonce', AES_GCM_NONCE_LENGTH)
  assertBytes(plaintext, 'plaintext')
  const sealed = await subtle().encrypt(
    { name: 'AES-GCM', iv: bufferSource(nonce), tagLength: 128 },
    key,
    bufferSource(plaintext),
  )
  return new Uint8Array(sealed)
}

/**
 * @returns the plaintext, or `undefined` when the tag does not verify (WebCrypto's
 *   `OperationError`, the same name in Node, workerd and browsers). Any other error is a
 *   bug and propagates.
 */
export async function aesGcmOpen(
  key: CryptoKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
): Promise<Uint8Array | undefined> {
  try {
    const opened = await subtle().decrypt(
      { name: 'AES-GCM', iv: bufferSource(nonce), tagLength: 128 },
      key,
      bufferSource(sealed),
    )
    return new Uint8Array(opened)
  } catch (error) {
    // Matched by name: a DOMException need not be an `instanceof Error` in every runtime.
    if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'OperationError') {
      return undefined
    }
    throw error
  }
}
