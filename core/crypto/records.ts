/**
 * Stored values (PROTOCOL §5.3): `nonce(12) ‖ AES-256-GCM(data_key(app), nonce, plaintext) ‖
 * tag(16)`, never shorter than 28 bytes, with no plaintext fallback.
 */
import { KmsError } from '../errors'
import { concatBytes } from '../encoding'
import { AES_GCM_NONCE_LENGTH, AES_GCM_TAG_LENGTH, aesGcmOpen, aesGcmSeal, importAesGcmKey, type AesGcmKey } from './_aesGcm'
import { assertBytes } from '../_assert'

/** An imported `data_key` (a non-extractable CryptoKey, or the runtime's native cipher's key). Import once per app and reuse it. */
export type RecordKey = AesGcmKey

const MIN_RECORD_LENGTH = AES_GCM_NONCE_LENGTH + AES_GCM_TAG_LENGTH

/** Imports a 32-byte `data_key` (§5.2) for {@link encryptRecord} and {@link decryptRecord}. */
export async function importRecordKey(dataKey: Uint8Array): Promise<RecordKey> {
  return importAesGcmKey(dataKey, 'dataKey')
}

/**
 * Encrypts a value for the store. The caller draws `nonce` (12 bytes) from its `Random`.
 * @returns `nonce ‖ ciphertext ‖ tag`.
 */
export async function encryptRecord(key: RecordKey, plaintext: Uint8Array, nonce: Uint8Array): Promise<Uint8Array> {
  return concatBytes(nonce, await aesGcmSeal(key, nonce, plaintext))
}

/**
 * Decrypts a stored value.
 * @throws KmsError `decryption_failed` if it is shorter than 28 bytes or the tag does not
 *   verify (PROTOCOL §2.5: a stored value that fails to decrypt is 400).
 */
export async function decryptRecord(key: RecordKey, stored: Uint8Array): Promise<Uint8Array> {
  assertBytes(stored, 'stored')
  if (stored.length < MIN_RECORD_LENGTH) {
    throw new KmsError('decryption_failed', 'Decryption failed', { details: 'record shorter than 28 bytes' })
  }
  const plaintext = await aesGcmOpen(
    key,
    stored.subarray(0, AES_GCM_NONCE_LENGTH),
    stored.subarray(AES_GCM_NONCE_LENGTH),
  )
  if (plaintext === undefined) {
    throw new KmsError('decryption_failed', 'Decryption failed', { details: 'record tag mismatch' })
  }
  return plaintext
}
