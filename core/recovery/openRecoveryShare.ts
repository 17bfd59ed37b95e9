/**
 * The custodian's side of §7.6: opens its sealed share from the chain and checks that it is
 * for this deployment, hash, policy and position, and that it matches its commitment.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesEqual, constantTimeEqual } from '../encoding'
import { decryptEnvelope, parseP384PublicKey, type P384PrivateKey } from '../crypto'
import { KmsError } from '../errors'
import { isIndex, parseHex0x, parseShare, type RecoveryShareBinding } from './_fields'
import { RECOVERY_SHARE_INFO, SEALED_SHARE_HEADER_LENGTH } from './sealRecoveryShare'

function refused(details: string): KmsError {
  return new KmsError('bad_request', 'sealed share refused', { details })
}

/**
 * @returns the plain share (33 bytes, y ‖ x).
 * @throws KmsError `decryption_failed` when the bytes do not open with this key;
 *   `bad_request` ("sealed share refused", details name the field) when a bound field
 *   differs from `expected` or keccak256(share) ≠ `commitment`.
 */
export async function openRecoveryShare(params: {
  custodianKey: P384PrivateKey
  sealedShare: Uint8Array
  commitment: Uint8Array
  expected: RecoveryShareBinding
}): Promise<Uint8Array> {
  const { sealedShare, expected } = params
  if (sealedShare.length < SEALED_SHARE_HEADER_LENGTH + 16) throw refused('sealed share too short')
  const sender = parseP384PublicKey(sealedShare.subarray(0, 120))
  if (sender === undefined || sender.der.length !== 120) throw refused('sender key is not a P-384 SPKI')
  const plaintext = await decryptEnvelope({
    privateKey: params.custodianKey,
    peerPublicKey: sender,
    nonce: sealedShare.slice(120, SEALED_SHARE_HEADER_LENGTH),
    ciphertext: sealedShare.slice(SEALED_SHARE_HEADER_LENGTH),
    info: RECOVERY_SHARE_INFO,
  })
  let inner: unknown
  try {
    inner = JSON.parse(plaintext)
  } catch {
    throw refused('plaintext is not JSON')
  }
  if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw refused('plaintext is not an object')
  const o = inner as Record<string, unknown>
  if (o.type !== 'recovery_share' || o.v !== 1) throw refused('type/v')
  if (o.chain_id !== expected.chainId) throw refused('chain_id')
  if (o.kms_registry !== expected.kmsRegistry) throw refused('kms_registry')
  const hash = parseHex0x(o.secret_hash, 32)
  if (hash === undefined || !bytesEqual(hash, expected.secretHash)) throw refused('secret_hash')
  if (o.policy_id !== expected.policyId) throw refused('policy_id')
  if (!isIndex(o.index, 0, 15) || o.index !== expected.index) throw refused('index')
  if (o.threshold !== expected.threshold) throw refused('threshold')
  const share = parseShare(o.share)
  if (share === undefined) throw refused('share')
  if (params.commitment.length !== 32 || !constantTimeEqual(keccak_256(share), params.commitment)) {
    throw refused('share does not match its commitment')
  }
  return share
}
