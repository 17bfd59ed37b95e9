/**
 * Step 7 of ATTESTATION.md §2: the COSE_Sign1 ES384 signature, verified with the leaf's key
 * over the hand-built Sig_structure. High-S is accepted (2 of the 9 fixtures are high-S;
 * WebCrypto accepts it, where noble's default `lowS: true` would not).
 */
import { importP384PublicKey, verifyP384 } from './_ecdsa'
import type { CoseSign1 } from './cose'
import { AttestationError } from './errors'
import { buildSigStructure } from './sigStructure'

/**
 * @param leafPublicKey the leaf certificate's 97-byte point, already checked on the curve.
 * @throws AttestationError `ATTESTATION_SIGNATURE_INVALID` on any failure or exception.
 */
export async function verifyCoseSignature(envelope: CoseSign1, leafPublicKey: Uint8Array): Promise<void> {
  let valid: boolean
  try {
    const key = await importP384PublicKey(leafPublicKey)
    valid = await verifyP384(key, envelope.signature, buildSigStructure(envelope))
  } catch (error) {
    throw new AttestationError('ATTESTATION_SIGNATURE_INVALID', { cause: error })
  }
  if (!valid) throw new AttestationError('ATTESTATION_SIGNATURE_INVALID')
}
