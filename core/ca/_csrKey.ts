import { p256, p384 } from '@noble/curves/nist.js'
import { bytesEqual, derOid, type DerElement } from '../encoding'
import { KmsError } from '../errors'
import type { AlgorithmIdentifier, CsrStructure } from './_csrStructure'
import { Oid } from './_oids'

export type CsrKeyType = 'P-256' | 'P-384' | 'Ed25519'
export type EcdsaHash = 'SHA-256' | 'SHA-384' | 'SHA-512'

/** What check 4 needs to verify the self-signature. */
export type CsrSignatureScheme =
  | { readonly keyType: 'P-256' | 'P-384'; readonly hash: EcdsaHash }
  | { readonly keyType: 'Ed25519' }

/**
 * PROTOCOL §8.4 check 3: the key and its signature algorithm. Accepted are P-256 and P-384
 * keys (id-ecPublicKey, a namedCurve, an uncompressed point on the curve; RFC 5480 §2)
 * signed with ecdsa-with-SHA256/384/512 (RFC 5758 §3.2: parameters absent), and Ed25519 keys
 * (RFC 8410 §3: 32 bytes, parameters absent) signed with Ed25519. Anything else is
 * `unsupported_key`, so a client learns that its key type, not its CSR, is the problem.
 * @throws KmsError `unsupported_key`
 */
export function checkCsrKey(csr: CsrStructure): CsrSignatureScheme {
  const { keyAlgorithm, signatureAlgorithm, subjectPublicKey } = csr
  if (isOid(keyAlgorithm.oid, Oid.ecPublicKey)) {
    const keyType = isOid(keyAlgorithm.parameters, Oid.prime256v1)
      ? 'P-256'
      : isOid(keyAlgorithm.parameters, Oid.secp384r1)
        ? 'P-384'
        : undefined
    if (keyType === undefined) throw unsupported('Unsupported EC curve')
    assertUncompressedPoint(keyType, subjectPublicKey)
    return { keyType, hash: ecdsaHash(signatureAlgorithm) }
  }
  if (isOid(keyAlgorithm.oid, Oid.ed25519)) {
    if (keyAlgorithm.parameters !== undefined || subjectPublicKey.length !== 32) {
      throw unsupported('Unsupported Ed25519 key encoding')
    }
    if (!isOid(signatureAlgorithm.oid, Oid.ed25519) || signatureAlgorithm.parameters !== undefined) {
      throw unsupported('Unsupported signature algorithm')
    }
    return { keyType: 'Ed25519' }
  }
  throw unsupported(unsupportedKeyTypeMessage(keyAlgorithm.oid))
}

function unsupported(message: string): KmsError {
  return new KmsError('unsupported_key', message)
}

/** OIDs are compared as encoded bytes: exact, and free of any arc-size limit. */
function isOid(element: DerElement | undefined, dotted: string): boolean {
  return element !== undefined && bytesEqual(element.tlv, derOid(dotted))
}

function ecdsaHash(algorithm: AlgorithmIdentifier): EcdsaHash {
  if (algorithm.parameters === undefined) {
    if (isOid(algorithm.oid, Oid.ecdsaWithSha256)) return 'SHA-256'
    if (isOid(algorithm.oid, Oid.ecdsaWithSha384)) return 'SHA-384'
    if (isOid(algorithm.oid, Oid.ecdsaWithSha512)) return 'SHA-512'
  }
  throw unsupported('Unsupported signature algorithm')
}

/** SEC1 §2.3.4: `04 ‖ X ‖ Y`, and (X, Y) on the curve (a key that is no point is no key). */
function assertUncompressedPoint(keyType: 'P-256' | 'P-384', point: Uint8Array): void {
  const [curve, coordinateLength] = keyType === 'P-256' ? [p256, 32] : [p384, 48]
  if (point.length !== 1 + 2 * coordinateLength || point[0] !== 0x04) {
    throw unsupported('Unsupported EC point encoding')
  }
  try {
    curve.Point.fromBytes(point)
  } catch (error) {
    // noble rejects a coordinate ≥ p or a point off the curve; both mean "not a P-256/384 key".
    throw new KmsError('unsupported_key', 'Unsupported EC point: not on the curve', { cause: error })
  }
}

/** A fixed name for key types clients commonly try; never the received OID itself. */
function unsupportedKeyTypeMessage(oid: DerElement): string {
  const known: ReadonlyArray<readonly [string, string]> = [
    ['1.2.840.113549.1.1.1', 'RSA'],
    ['1.2.840.113549.1.1.10', 'RSA-PSS'],
    ['1.2.840.10040.4.1', 'DSA'],
    ['1.3.101.110', 'X25519'],
    ['1.3.101.111', 'X448'],
    ['1.3.101.113', 'Ed448'],
  ]
  const name = known.find(([dotted]) => isOid(oid, dotted))?.[1]
  return name === undefined ? 'Unsupported key type' : `Unsupported key type: ${name}`
}
