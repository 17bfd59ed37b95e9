/**
 * A stand-in attestation issuer for tests: its "document" is the JSON of what it was asked,
 * so a test can check exactly what reached the issuer through either Tee implementation.
 */
import type { IssueAttestation } from '../../../core/tee'
import { bytesToHex, canonicalJson, utf8ToBytes } from '../../../core/encoding'

export const recordAttestationRequest: IssueAttestation = async ({ request, wallet, teePublicKeyDer }) =>
  utf8ToBytes(
    canonicalJson({
      nonce: bytesToHex(request.nonce),
      publicKeyDer: request.publicKeyDer === undefined ? null : bytesToHex(request.publicKeyDer),
      userData: request.userData ?? null,
      wallet,
      teePublicKeyDer: bytesToHex(teePublicKeyDer),
    }),
  )
