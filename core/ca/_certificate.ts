import { p256 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { DerTag, derBitString, derExplicit, derOid, derSequence, derSmallInteger, derTlv, derUnsignedInteger } from '../encoding'
import { Oid } from './_oids'

/**
 * The serial rule of PROTOCOL §8.2 item 2, shared by the CA and the leaves (§8.5 item 2):
 * 16 bytes, top bit cleared so the INTEGER is positive without a sign byte (RFC 5280
 * §4.1.2.2), and a zero top byte raised to 1 so the content stays exactly 16 bytes and
 * minimal. Returns the 16 serial bytes; the input is not modified.
 */
export function serialFromBytes(bytes16: Uint8Array): Uint8Array {
  const serial = bytes16.slice(0, 16)
  serial[0]! &= 0x7f
  if (serial[0] === 0) serial[0] = 0x01
  return serial
}

export interface TbsCertificateFields {
  serial: Uint8Array
  issuer: Uint8Array
  notBefore: Uint8Array
  notAfter: Uint8Array
  subject: Uint8Array
  subjectPublicKeyInfo: Uint8Array
  extensions: readonly Uint8Array[]
}

/** `AlgorithmIdentifier { ecdsa-with-SHA256 }`, parameters absent (RFC 5758 §3.2). */
function ecdsaWithSha256(): Uint8Array {
  return derSequence(derOid(Oid.ecdsaWithSha256))
}

/**
 * Encodes a v3 TBSCertificate in RFC 5280 §4.1 field order and signs it with the CA key
 * (PROTOCOL §8.2 "Signature"): ECDSA P-256 over SHA-256(TBS), RFC 6979 nonce (no extra
 * entropy, so every node produces the same bytes), then low-S. r and s become minimal DER
 * INTEGERs. Returns the Certificate DER.
 */
export function signCertificate(fields: TbsCertificateFields, caPrivateKey: Uint8Array): Uint8Array {
  const algorithm = ecdsaWithSha256()
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    derTlv(DerTag.INTEGER, fields.serial),
    algorithm,
    fields.issuer,
    derSequence(fields.notBefore, fields.notAfter),
    fields.subject,
    fields.subjectPublicKeyInfo,
    derExplicit(3, derSequence(...fields.extensions)),
  )
  const compact = p256.sign(sha256(tbs), caPrivateKey, { prehash: false, lowS: true, extraEntropy: false })
  const signature = derSequence(derUnsignedInteger(compact.subarray(0, 32)), derUnsignedInteger(compact.subarray(32, 64)))
  return derSequence(tbs, algorithm, derBitString(signature))
}
