import { concatBytes, utf8ToBytes } from '../encoding'
import { assertBytes, assertInteger } from '../_assert'
import { AES_GCM_NONCE_LENGTH } from './_aesGcm'
import { MAX_KEY_EPOCH } from './deriveAppKey'
import { hmacSha256 } from './hmacSha256'
import { decryptRecord, encryptRecord, type RecordKey } from './records'

export interface ReencryptRecordParams {
  /** `data_key(app, e)` (§5.2), imported: the key `value` is stored under. */
  fromKey: RecordKey
  /** `data_key(app, c)`, imported: the key of the new value. */
  toKey: RecordKey
  /** `reencrypt_nonce_key(app, c)` (`deriveReencryptNonceKey`), 32 bytes. */
  nonceKey: Uint8Array
  /** e, the cluster epoch `value` is stored under, 0..2^32−1. */
  fromEpoch: number
  /** The whole stored value under epoch e: `nonce ‖ ciphertext ‖ tag` (§5.3). */
  value: Uint8Array
}

/**
 * Moves one stored value from cluster epoch e to epoch c > e (PROTOCOL §6.10): decrypts it
 * with `data_key(app, e)` and seals the plaintext with `data_key(app, c)` under
 * `nonce = HMAC-SHA256(reencrypt_nonce_key(app, c), UTF-8("<e>:") ‖ value)[0..12)`.
 * @returns `nonce ‖ ciphertext ‖ tag` (§5.3), as long as `value`.
 *
 * Why the nonce is not random: every node re-encrypts its own replica of a record, without
 * telling its peers (§6.10). A nonce that is a PRF of the unique old value makes all replicas
 * produce byte-identical new values, so the merge tie-break on ciphertext bytes (§6.6) stays
 * convergent; random nonces would make the replicas differ and the tie-break pick one per
 * node pair. It is the synthetic-IV idea of SIV (RFC 5297 §2.6: the IV is a PRF of the
 * input), with the old value as the input: the old value fixes the plaintext, so one nonce
 * only ever seals one plaintext under `toKey`, and AES-GCM's nonce-reuse failure cannot
 * happen. Distinct old values carry distinct random nonces (§5.3), so they are distinct
 * HMAC inputs, and the truncated outputs collide with one another, or with the random nonces
 * of fresh writes under c, only as 96-bit random nonces do: about N²/2^97 for N values under
 * one key, the same birthday bound as NIST SP 800-38D §8.2.2's random construction. The
 * `"<e>:"` prefix binds the nonce to the source epoch; the key is per app and per target
 * epoch, like `data_key`.
 *
 * @throws KmsError `decryption_failed` when `value` does not decrypt under `fromKey`
 *   (shorter than 28 bytes, or a tag mismatch), exactly as {@link decryptRecord}.
 * @throws TypeError | RangeError on a malformed nonce key or epoch (a caller bug).
 */
export async function reencryptRecord({
  fromKey,
  toKey,
  nonceKey,
  fromEpoch,
  value,
}: ReencryptRecordParams): Promise<Uint8Array> {
  assertBytes(nonceKey, 'nonceKey', 32)
  assertInteger(fromEpoch, 'fromEpoch', 0, MAX_KEY_EPOCH)
  assertBytes(value, 'value')
  const plaintext = await decryptRecord(fromKey, value)
  try {
    const mac = await hmacSha256(nonceKey, concatBytes(utf8ToBytes(`${fromEpoch}:`), value))
    return await encryptRecord(toKey, plaintext, mac.slice(0, AES_GCM_NONCE_LENGTH))
  } finally {
    plaintext.fill(0) // the record's plaintext; do not leave it for the garbage collector
  }
}
