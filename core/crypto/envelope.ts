/**
 * Envelope cipher v1 (PROTOCOL §10.2), the cipher Odyn runs for `/v1/encryption/*`,
 * implemented locally for the dev stand-in and the client SDK:
 * `K = HKDF-SHA256(Z, lo ‖ hi ‖ N, info, 32)`, output `AES-256-GCM(K, N, UTF-8 plaintext)`
 * as ciphertext ‖ tag. Replay memory is the caller's (see `ReplayMemory`): these functions
 * are pure.
 */
import { KmsError } from '../errors'
import { compareBytes, concatBytes, parseUtf8, utf8ToBytes } from '../encoding'
import { AES_GCM_NONCE_LENGTH, AES_GCM_TAG_LENGTH, aesGcmOpen, aesGcmSeal, importAesGcmKey } from './_aesGcm'
import { assertBytes, assertString } from '../_assert'
import { computeP384SharedSecret } from './computeP384SharedSecret'
import { hkdfSha256 } from './hkdfSha256'
import type { P384PrivateKey } from './p384PrivateKey'
import type { P384PublicKey } from './p384PublicKey'

/**
 * The HKDF info this protocol uses (§10.2 "Chosen", 2026-12): the current runtime's label,
 * capsule-runtime v1.8.0 and later (commit 8635ac4; RUNTIME.md §1). The default everywhere.
 */
export const ENVELOPE_INFO_CURRENT = 'capsule-ecdh-aes256gcm-v1'
/** The older label of the same scheme: enclaver / Odyn v1.5.0–v1.7.1 (commit c249abb). */
export const ENVELOPE_INFO_ENCLAVER_V1 = 'enclaver-ecdh-aes256gcm-v1'
/** The label of the same scheme in capsule-runtime v1.7.2 only. */
export const ENVELOPE_INFO_CAPSULE_API = 'capsule-api-ecdh-aes256gcm-v1'

export interface DeriveEnvelopeKeyParams {
  /** Our key d. */
  privateKey: P384PrivateKey
  /** The peer's key P. */
  peerPublicKey: P384PublicKey
  /** N, exactly 12 bytes. */
  nonce: Uint8Array
  /** HKDF info; defaults to {@link ENVELOPE_INFO_CURRENT}. An older runtime needs its own label. */
  info?: string
}

export interface EncryptEnvelopeParams extends DeriveEnvelopeKeyParams {
  plaintext: string
}

export interface DecryptEnvelopeParams extends DeriveEnvelopeKeyParams {
  /** Ciphertext ‖ tag. */
  ciphertext: Uint8Array
}

function decryptionFailed(details: string): KmsError {
  return new KmsError('decryption_failed', 'Decryption failed', { details })
}

/**
 * The envelope key K (§10.2 steps 1–3). Both sides get the same K because the two SEC1
 * keys enter the salt in bytewise ascending order.
 */
export async function deriveEnvelopeKey({
  privateKey,
  peerPublicKey,
  nonce,
  info = ENVELOPE_INFO_CURRENT,
}: DeriveEnvelopeKeyParams): Promise<Uint8Array> {
  assertBytes(nonce, 'nonce', AES_GCM_NONCE_LENGTH)
  assertString(info, 'info')
  const own = privateKey.publicKey.sec1
  const peer = peerPublicKey.sec1
  const [lo, hi] = compareBytes(own, peer) <= 0 ? [own, peer] : [peer, own]
  return hkdfSha256({
    ikm: await computeP384SharedSecret(privateKey, peerPublicKey),
    salt: concatBytes(lo, hi, nonce),
    info: utf8ToBytes(info),
    length: 32,
  })
}

/**
 * Encrypts `plaintext` (as UTF-8) from our key to the peer's. The caller draws the nonce.
 * @returns ciphertext ‖ tag.
 */
export async function encryptEnvelope(params: EncryptEnvelopeParams): Promise<Uint8Array> {
  assertString(params.plaintext, 'plaintext')
  const key = await importAesGcmKey(await deriveEnvelopeKey(params), 'K')
  return aesGcmSeal(key, params.nonce, utf8ToBytes(params.plaintext))
}

/**
 * Decrypts an envelope from the peer. Replay is checked by the caller.
 * @throws KmsError `decryption_failed` for a nonce that is not 12 bytes, a short
 *   ciphertext, a tag mismatch or a plaintext that is not UTF-8 (§5.6 step 2).
 */
export async function decryptEnvelope(params: DecryptEnvelopeParams): Promise<string> {
  const { nonce, ciphertext } = params
  assertBytes(nonce, 'nonce')
  assertBytes(ciphertext, 'ciphertext')
  if (nonce.length !== AES_GCM_NONCE_LENGTH) throw decryptionFailed('envelope nonce is not 12 bytes')
  if (ciphertext.length < AES_GCM_TAG_LENGTH) throw decryptionFailed('envelope shorter than its tag')
  const key = await importAesGcmKey(await deriveEnvelopeKey(params), 'K')
  const bytes = await aesGcmOpen(key, nonce, ciphertext)
  if (bytes === undefined) throw decryptionFailed('envelope tag mismatch')
  const plaintext = parseUtf8(bytes)
  if (plaintext === undefined) throw decryptionFailed('envelope plaintext is not UTF-8')
  return plaintext
}
