/**
 * Decryption for `/v1/encryption/decrypt` (PROTOCOL §10.2, RUNTIME.md §2). The key comes
 * from `deriveEnvelopeKey` (core/crypto/envelope.ts); the AES-GCM open is done here rather
 * than through `decryptEnvelope` because the API must tell a wrong tag from a plaintext that
 * is not UTF-8, and `decryptEnvelope` reports both as one `decryption_failed`.
 */
import { RUNTIME_ENVELOPE_INFO } from '../../core/client'
import { deriveEnvelopeKey, type P384PrivateKey, type P384PublicKey } from '../../core/crypto'
import { parseUtf8 } from '../../core/encoding'
import { badRequest } from '../http/runtimeApiError'

const TAG_LENGTH = 16

export async function openEnvelope(params: { privateKey: P384PrivateKey; peerPublicKey: P384PublicKey; nonce: Uint8Array; ciphertext: Uint8Array }): Promise<string> {
  if (params.ciphertext.length < TAG_LENGTH) throw badRequest("'encrypted_data' is shorter than its 16-byte tag")
  const key = await deriveEnvelopeKey({ ...params, info: RUNTIME_ENVELOPE_INFO })
  const aes = await crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['decrypt'])
  let plaintext: Uint8Array
  try {
    plaintext = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: new Uint8Array(params.nonce) }, aes, new Uint8Array(params.ciphertext)))
  } catch (error) {
    // WebCrypto's one failure of a well-formed AES-GCM decrypt: the tag does not verify.
    if (error instanceof Error && error.name === 'OperationError') throw badRequest('Decryption failed: wrong key, nonce or ciphertext (tag mismatch)')
    throw error
  }
  const text = parseUtf8(plaintext)
  if (text === undefined) throw badRequest('Decrypted plaintext is not valid UTF-8')
  return text
}
