/**
 * The on-chain sealed share (PROTOCOL §7.6): share i sealed to custodian i's P-384 key with
 * the §10.2 cipher under its own HKDF info, `nova-kms-recovery-share-v1`, so that no other
 * envelope of the protocol can be replayed as a share or the reverse (domain separation).
 * Bytes: `ephemeralSenderSpkiDer (120) ‖ N (12) ‖ AES-256-GCM ciphertext ‖ tag`.
 */
import { canonicalJson } from '../encoding'
import { encryptEnvelope, parseP384PublicKey, type P384PrivateKey } from '../crypto'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import { concatBytes } from '../encoding'
import { hex0x, RECOVERY_SHARE_LENGTH, type RecoveryShareBinding } from './_fields'

/** HKDF info of the sealed share (§7.6), the "documented equivalent" of §10.2's label. */
export const RECOVERY_SHARE_INFO = 'nova-kms-recovery-share-v1'
export const SEALED_SHARE_HEADER_LENGTH = 120 + 12

/** The canonical plaintext a sealed share carries (§7.6). */
export function recoverySharePlaintext(binding: RecoveryShareBinding, share: Uint8Array): string {
  return canonicalJson({
    type: 'recovery_share',
    v: 1,
    chain_id: binding.chainId,
    kms_registry: binding.kmsRegistry,
    secret_hash: hex0x(binding.secretHash),
    policy_id: binding.policyId,
    index: binding.index,
    threshold: binding.threshold,
    share: hex0x(share),
  })
}

/**
 * Seals one plain share to one custodian.
 * @param ephemeralKey the sender key, fresh per backup (its DER leads the bytes).
 * @throws KmsError `bad_request` when `custodianKeyDer` is not a P-384 point.
 */
export async function sealRecoveryShare(params: {
  ephemeralKey: P384PrivateKey
  custodianKeyDer: Uint8Array
  binding: RecoveryShareBinding
  share: Uint8Array
  random: Random
}): Promise<Uint8Array> {
  const custodian = parseP384PublicKey(params.custodianKeyDer)
  if (custodian === undefined) throw new KmsError('bad_request', 'custodian key is not a P-384 public key')
  if (params.share.length !== RECOVERY_SHARE_LENGTH) throw new RangeError(`share: expected ${RECOVERY_SHARE_LENGTH} bytes`)
  const nonce = params.random.bytes(12)
  const ciphertext = await encryptEnvelope({
    privateKey: params.ephemeralKey,
    peerPublicKey: custodian,
    nonce,
    info: RECOVERY_SHARE_INFO,
    plaintext: recoverySharePlaintext(params.binding, params.share),
  })
  return concatBytes(params.ephemeralKey.publicKey.der, nonce, ciphertext)
}
