import { ed25519 } from '@noble/curves/ed25519.js'
import { p256, p384 } from '@noble/curves/nist.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js'
import { DerError, concatBytes, parseDer, readDerSequence, readDerUnsignedInteger } from '../encoding'
import { KmsError } from '../errors'
import type { CsrSignatureScheme } from './_csrKey'
import type { CsrStructure } from './_csrStructure'

/**
 * PROTOCOL §8.4 check 4: the self-signature (RFC 2986 §4.2) over the received
 * `certificationRequestInfo` bytes, never over a re-encoding. ECDSA accepts high-S, since
 * OpenSSL and most signers do not normalise s; Ed25519 is RFC 8032 §5.1.7 verification
 * (noble's `zip215: false`: canonical encodings only).
 * @throws KmsError `invalid_csr`
 */
export function verifyCsrSignature(csr: CsrStructure, scheme: CsrSignatureScheme): void {
  const message = csr.certificationRequestInfo
  const valid =
    scheme.keyType === 'Ed25519'
      ? csr.signature.length === 64 && ed25519.verify(csr.signature, message, csr.subjectPublicKey, { zip215: false })
      : verifyEcdsa(scheme, csr.signature, message, csr.subjectPublicKey)
  if (!valid) throw signatureError()
}

function signatureError(cause?: unknown): KmsError {
  return new KmsError('invalid_csr', 'Invalid CSR: signature does not verify', { cause })
}

function verifyEcdsa(
  scheme: Extract<CsrSignatureScheme, { hash: string }>,
  signatureDer: Uint8Array,
  message: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  const [curve, coordinateLength] = scheme.keyType === 'P-256' ? [p256, 32] : [p384, 48]
  const order = curve.Point.Fn.ORDER
  let r: bigint
  let s: bigint
  try {
    // ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2 via RFC 3279), strict DER.
    const [rElement, sElement, ...extra] = readDerSequence(parseDer(signatureDer), 'ECDSA-Sig-Value')
    if (extra.length > 0) throw new DerError('extra ECDSA-Sig-Value fields')
    r = bytesToNumberBE(readDerUnsignedInteger(rElement, 'r'))
    s = bytesToNumberBE(readDerUnsignedInteger(sElement, 's'))
  } catch (error) {
    if (error instanceof DerError) throw signatureError(error)
    throw error
  }
  if (r < 1n || r >= order || s < 1n || s >= order) return false
  const hash = scheme.hash === 'SHA-256' ? sha256 : scheme.hash === 'SHA-384' ? sha384 : sha512
  const compact = concatBytes(numberToBytesBE(r, coordinateLength), numberToBytesBE(s, coordinateLength))
  // prehash: false because the digest is the algorithm's own; noble truncates a longer digest
  // to the order's bit length (SEC1 §4.1.4 step 5), e.g. SHA-512 with P-256.
  return curve.verify(compact, hash(message), publicKey, { prehash: false, lowS: false })
}
