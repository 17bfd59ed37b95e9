/**
 * Hand-built PKCS#10 requests (RFC 2986) for the cases OpenSSL will not produce: high-S,
 * compressed or off-curve points, foreign algorithm parameters, other versions. Each is
 * correctly self-signed unless a case says otherwise, so exactly one rule is broken.
 */
import { ed25519 } from '@noble/curves/ed25519.js'
import { p256 } from '@noble/curves/nist.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
  derBitString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derTlv,
  derUnsignedInteger,
  derUtf8String,
} from '../../../core/encoding'

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  prime256v1: '1.2.840.10045.3.1.7',
  ecdsaWithSha1: '1.2.840.10045.4.1',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
}

export interface CsrParts {
  version?: number
  subject?: Uint8Array
  spki: Uint8Array
  /** The `[0]` attributes element; `null` leaves it out. */
  attributes?: Uint8Array | null
  signatureAlgorithm: Uint8Array
  /** Returns the signature BIT STRING contents for the encoded certificationRequestInfo. */
  sign: (info: Uint8Array) => Uint8Array
}

export function subjectName(commonName: string): Uint8Array {
  return derSequence(derSet(derSequence(derOid('2.5.4.3'), derUtf8String(commonName))))
}

export function buildCsrDer(parts: CsrParts): Uint8Array {
  const attributes = parts.attributes === undefined ? derTlv(0xa0, new Uint8Array(0)) : parts.attributes
  const info = derSequence(
    derSmallInteger(parts.version ?? 0),
    parts.subject ?? subjectName('hand-made'),
    parts.spki,
    ...(attributes === null ? [] : [attributes]),
  )
  return derSequence(info, parts.signatureAlgorithm, derBitString(parts.sign(info)))
}

export function ecSpki(point: Uint8Array, curveParameters: Uint8Array = derOid(OID.prime256v1)): Uint8Array {
  return derSequence(derSequence(derOid(OID.ecPublicKey), curveParameters), derBitString(point))
}

export function algorithm(oid: string, parameters?: Uint8Array): Uint8Array {
  return parameters === undefined ? derSequence(derOid(oid)) : derSequence(derOid(oid), parameters)
}

/** A P-256 key and an ECDSA-SHA256 signer; `highS` flips s to n − s (still valid). */
export function p256Signer(options: { highS?: boolean } = {}): {
  publicKey: Uint8Array
  secretKey: Uint8Array
  sign: (info: Uint8Array) => Uint8Array
} {
  const { secretKey } = p256.keygen()
  const sign = (info: Uint8Array): Uint8Array => {
    const compact = p256.sign(sha256(info), secretKey, { prehash: false, lowS: true })
    const order = p256.Point.Fn.ORDER
    let s = bytesToNumberBE(compact.subarray(32))
    if (options.highS === true) s = order - s
    return derSequence(derUnsignedInteger(compact.subarray(0, 32)), derUnsignedInteger(numberToBytesBE(s, 32)))
  }
  return { secretKey, publicKey: p256.getPublicKey(secretKey, false), sign }
}

export function ed25519Signer(): { publicKey: Uint8Array; sign: (info: Uint8Array) => Uint8Array } {
  const { secretKey, publicKey } = ed25519.keygen()
  return { publicKey, sign: (info) => ed25519.sign(info, secretKey) }
}
