/**
 * Master-secret sealing for `master_secret_request` (PROTOCOL §5.5): the responder makes an
 * ephemeral P-384 key, Z = ECDH(ephemeral, requester), `K = HKDF-SHA256(Z,
 * "nova-kms:sealed-master-secret", "aes-gcm-key", 32)`, and sends `AES-GCM(K, nonce, secret)`
 * (48 B) with its ephemeral DER. The exchange travels inside the outer envelope (§5.6).
 */
import { KmsError } from '../errors'
import { utf8ToBytes } from '../encoding'
import type { Random } from '../runtime'
import { AES_GCM_NONCE_LENGTH, aesGcmOpen, aesGcmSeal, importAesGcmKey } from './_aesGcm'
import { assertBytes } from '../_assert'
import { computeP384SharedSecret } from './computeP384SharedSecret'
import { hkdfSha256 } from './hkdfSha256'
import { generateP384PrivateKey, type P384PrivateKey } from './p384PrivateKey'
import { parseP384PublicKey } from './p384PublicKey'

const MASTER_SECRET_LENGTH = 32

/** The `sealed` object of the `master_secret_request` answer (§4.3), as bytes. */
export interface SealedMasterSecret {
  /** The responder's ephemeral P-384 key, DER SPKI (120 B). */
  ephemeralPublicKeyDer: Uint8Array
  /** AES-GCM ciphertext ‖ tag of the 32-byte secret (48 B). */
  encryptedData: Uint8Array
  /** 12 bytes. */
  nonce: Uint8Array
}

export interface SealMasterSecretParams {
  /** The requester's `ecdh_pubkey`: DER SPKI or SEC1 uncompressed. */
  requesterPublicKeyDer: Uint8Array
  masterSecret: Uint8Array
  /** Source of the ephemeral scalar and the nonce. */
  random: Random
}

export interface UnsealMasterSecretParams {
  /** The requester's ephemeral key, whose public half went out as `ecdh_pubkey`. */
  ephemeralPrivateKey: P384PrivateKey
  sealed: SealedMasterSecret
}

/** K of §5.5 step 3, from the ECDH shared secret Z. */
export async function deriveSealingKey(sharedSecret: Uint8Array): Promise<Uint8Array> {
  assertBytes(sharedSecret, 'sharedSecret', 48)
  return hkdfSha256({
    ikm: sharedSecret,
    salt: utf8ToBytes('nova-kms:sealed-master-secret'),
    info: utf8ToBytes('aes-gcm-key'),
    length: 32,
  })
}

/**
 * Seals the master secret to a requester (responder side, §5.5 steps 2–4).
 * @throws KmsError `bad_request` (`Invalid peer ECDH public key`, §4.3) if the requester's
 *   key is not a P-384 point.
 */
export async function sealMasterSecret({
  requesterPublicKeyDer,
  masterSecret,
  random,
}: SealMasterSecretParams): Promise<SealedMasterSecret> {
  assertBytes(requesterPublicKeyDer, 'requesterPublicKeyDer')
  assertBytes(masterSecret, 'masterSecret', MASTER_SECRET_LENGTH)
  const requester = parseP384PublicKey(requesterPublicKeyDer)
  if (requester === undefined) throw new KmsError('bad_request', 'Invalid peer ECDH public key')
  const ephemeral = await generateP384PrivateKey(random)
  const key = await importAesGcmKey(await deriveSealingKey(await computeP384SharedSecret(ephemeral, requester)), 'K')
  const nonce = random.bytes(AES_GCM_NONCE_LENGTH)
  assertBytes(nonce, 'random.bytes()', AES_GCM_NONCE_LENGTH)
  return {
    ephemeralPublicKeyDer: ephemeral.publicKey.der,
    encryptedData: await aesGcmSeal(key, nonce, masterSecret),
    nonce,
  }
}

function unsealFailed(details: string): KmsError {
  return new KmsError('decryption_failed', 'Decryption failed', { details })
}

/**
 * Opens a sealed master secret (requester side, §5.5 step 5).
 * @throws KmsError `decryption_failed` if the ephemeral key does not parse, the nonce is not
 *   12 bytes, the tag does not verify or the plaintext is not 32 bytes.
 */
export async function unsealMasterSecret({ ephemeralPrivateKey, sealed }: UnsealMasterSecretParams): Promise<Uint8Array> {
  assertBytes(sealed.ephemeralPublicKeyDer, 'sealed.ephemeralPublicKeyDer')
  assertBytes(sealed.encryptedData, 'sealed.encryptedData')
  assertBytes(sealed.nonce, 'sealed.nonce')
  const responder = parseP384PublicKey(sealed.ephemeralPublicKeyDer)
  if (responder === undefined) throw unsealFailed('sealed ephemeral key is not a P-384 point')
  if (sealed.nonce.length !== AES_GCM_NONCE_LENGTH) throw unsealFailed('sealed nonce is not 12 bytes')
  const key = await importAesGcmKey(
    await deriveSealingKey(await computeP384SharedSecret(ephemeralPrivateKey, responder)),
    'K',
  )
  const secret = await aesGcmOpen(key, sealed.nonce, sealed.encryptedData)
  if (secret === undefined) throw unsealFailed('sealed secret tag mismatch')
  if (secret.length !== MASTER_SECRET_LENGTH) throw unsealFailed('sealed secret is not 32 bytes')
  return secret
}
