/**
 * The X.509 parser of ATTESTATION.md §2 step 6a: strict DER (through `core/encoding`'s
 * reader) in the narrow AWS Nitro profile: v3, a positive serial of ≤ 21 content bytes,
 * ecdsa-with-SHA384 without parameters inside and outside, a P-384 key whose point is on the
 * curve, no unique IDs and no duplicate extension. It returns views of the input, so the
 * chain check (step 6c) verifies the exact received tbsCertificate bytes.
 */
import {
  DerError,
  DerTag,
  bytesEqual,
  expectDerTag,
  parseDer,
  readDerBoolean,
  readDerChildren,
  readDerInteger,
  readDerOid,
  readDerSequence,
  readDerSmallInteger,
  readDerTime,
  type DerElement,
} from '../encoding'
import { isP384UncompressedPoint } from './_p384'
import { AttestationError } from './errors'

/** ATTESTATION.md §3: no certificate over 1024 B is read. */
const CERTIFICATE_MAX_BYTES = 1024
/** AWS instance serials are `00` + 20 bytes. */
const SERIAL_MAX_CONTENT_BYTES = 21
/** `SEQUENCE { OID 1.2.840.10045.4.3.3 }`: ecdsa-with-SHA384, parameters absent (RFC 5758 §3.2). */
const ECDSA_WITH_SHA384 = Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03)
/** `SEQUENCE { id-ecPublicKey, secp384r1 }` (RFC 5480 §2.1.1). */
const P384_KEY_ALGORITHM = Uint8Array.of(
  0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22,
)
const VERSION_3 = 2
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_KEY_USAGE = '2.5.29.15'
/** KeyUsage bits (RFC 5280 §4.2.1.3). */
const KU_DIGITAL_SIGNATURE = 0
const KU_KEY_CERT_SIGN = 5

export interface BasicConstraints {
  readonly critical: boolean
  readonly ca: boolean
  readonly pathLen: number | undefined
}

export interface KeyUsage {
  readonly critical: boolean
  readonly digitalSignature: boolean
  readonly keyCertSign: boolean
}

/** A parsed certificate; every byte field is a view of the input. */
export interface NitroCertificate {
  /** The exact tbsCertificate TLV, the signed bytes. */
  readonly tbs: Uint8Array
  /** The issuer and subject Name TLVs, compared byte for byte (step 6b). */
  readonly issuer: Uint8Array
  readonly subject: Uint8Array
  /** Unix seconds. */
  readonly notBefore: number
  readonly notAfter: number
  /** The 97-byte uncompressed P-384 point. */
  readonly publicKey: Uint8Array
  /** The DER ECDSA-Sig-Value from the signature BIT STRING. */
  readonly signature: Uint8Array
  readonly basicConstraints: BasicConstraints | undefined
  readonly keyUsage: KeyUsage | undefined
  /** A critical extension other than basicConstraints or keyUsage (rejected in step 6d). */
  readonly hasUnknownCriticalExtension: boolean
}

function certMalformed(cause?: unknown): AttestationError {
  return new AttestationError('ATTESTATION_CERT_MALFORMED', { cause })
}

/** RDNSequence: SEQUENCE OF non-empty SET OF SEQUENCE { OID, value } (RFC 5280 §4.1.2.4). */
function readName(element: DerElement | undefined, what: string): Uint8Array {
  for (const rdn of readDerSequence(element, what)) {
    const attributes = readDerChildren(expectDerTag(rdn, DerTag.SET, `${what} RDN`))
    if (attributes.length === 0) throw certMalformed()
    for (const attribute of attributes) {
      const [type, value, extra] = readDerSequence(attribute, `${what} attribute`)
      readDerOid(type, `${what} attribute type`)
      if (value === undefined || extra !== undefined) throw certMalformed()
    }
  }
  return element!.tlv
}

function readPublicKey(element: DerElement | undefined): Uint8Array {
  const [algorithm, key, extra] = readDerSequence(element, 'subjectPublicKeyInfo')
  if (algorithm === undefined || !bytesEqual(algorithm.tlv, P384_KEY_ALGORITHM) || extra !== undefined) {
    throw certMalformed()
  }
  const { content } = expectDerTag(key, DerTag.BIT_STRING, 'subjectPublicKey')
  const point = content.subarray(1)
  if (content[0] !== 0 || !isP384UncompressedPoint(point)) throw certMalformed()
  return point
}

/** A DER BOOLEAN DEFAULT FALSE may only be present as TRUE (X.690 §11.5). */
function readDefaultFalse(element: DerElement, what: string): true {
  if (!readDerBoolean(element, what)) throw certMalformed()
  return true
}

function readBasicConstraints(value: Uint8Array, critical: boolean): BasicConstraints {
  const fields = readDerSequence(parseDer(value), 'basicConstraints')
  let index = 0
  const ca = fields[index]?.tag === DerTag.BOOLEAN ? readDefaultFalse(fields[index++]!, 'cA') : false
  const pathLen = fields[index] === undefined ? undefined : readDerSmallInteger(fields[index++], 'pathLenConstraint')
  if (index !== fields.length) throw certMalformed()
  return { critical, ca, pathLen }
}

/**
 * A DER named bit list (X.690 §11.2.2): the unused bits are zero and no trailing zero bit is
 * encoded, so the last bit present is set.
 */
function readKeyUsage(value: Uint8Array, critical: boolean): KeyUsage {
  const { content } = expectDerTag(parseDer(value), DerTag.BIT_STRING, 'keyUsage')
  const unused = content[0]
  const last = content[content.length - 1]!
  if (unused === undefined || unused > 7 || (content.length === 1 && unused !== 0)) throw certMalformed()
  if (content.length > 1 && (last & ((1 << (unused + 1)) - 1)) !== 1 << unused) throw certMalformed()
  const bit = (index: number): boolean => ((content[1 + (index >> 3)] ?? 0) & (0x80 >> (index & 7))) !== 0
  return { critical, digitalSignature: bit(KU_DIGITAL_SIGNATURE), keyCertSign: bit(KU_KEY_CERT_SIGN) }
}

interface Extensions {
  basicConstraints: BasicConstraints | undefined
  keyUsage: KeyUsage | undefined
  hasUnknownCriticalExtension: boolean
}

/** `[3] EXPLICIT SEQUENCE SIZE (1..MAX) OF Extension` (RFC 5280 §4.1.2.9). */
function readExtensions(wrapper: DerElement | undefined): Extensions {
  const result: Extensions = { basicConstraints: undefined, keyUsage: undefined, hasUnknownCriticalExtension: false }
  if (wrapper === undefined) return result
  const [list, extra] = readDerChildren(wrapper)
  const extensions = readDerSequence(list, 'extensions')
  if (extra !== undefined || extensions.length === 0) throw certMalformed()
  const seen = new Set<string>()
  for (const extension of extensions) {
    const fields = readDerSequence(extension, 'extension')
    if (fields.length !== 2 && fields.length !== 3) throw certMalformed()
    const oid = readDerOid(fields[0], 'extnID')
    const critical = fields.length === 3 ? readDefaultFalse(fields[1]!, 'critical') : false
    const value = expectDerTag(fields[fields.length - 1], DerTag.OCTET_STRING, 'extnValue').content
    if (seen.has(oid)) throw certMalformed()
    seen.add(oid)
    if (oid === OID_BASIC_CONSTRAINTS) result.basicConstraints = readBasicConstraints(value, critical)
    else if (oid === OID_KEY_USAGE) result.keyUsage = readKeyUsage(value, critical)
    else if (critical) result.hasUnknownCriticalExtension = true
  }
  return result
}

function readSerial(element: DerElement | undefined): void {
  const serial = readDerInteger(element, 'serialNumber')
  const positive = serial[0]! < 0x80 && !(serial.length === 1 && serial[0] === 0)
  if (!positive || serial.length > SERIAL_MAX_CONTENT_BYTES) throw certMalformed()
}

function readTbs(tbs: DerElement): Omit<NitroCertificate, 'tbs' | 'signature'> {
  const fields = readDerSequence(tbs, 'tbsCertificate')
  const [versionWrapper, serial, algorithm, issuer, validity, subject, publicKey, extensions, extra] = fields
  const [version, versionExtra] = readDerChildren(expectDerTag(versionWrapper, 0xa0, 'version'))
  if (readDerSmallInteger(version, 'version') !== VERSION_3 || versionExtra !== undefined) throw certMalformed()
  readSerial(serial)
  if (algorithm === undefined || !bytesEqual(algorithm.tlv, ECDSA_WITH_SHA384)) throw certMalformed()
  const [notBefore, notAfter, validityExtra] = readDerSequence(validity, 'validity')
  if (validityExtra !== undefined) throw certMalformed()
  // Unique identifiers ([1], [2]) are outside the profile; only [3] extensions may follow.
  if (extra !== undefined || (extensions !== undefined && extensions.tag !== 0xa3)) throw certMalformed()
  return {
    issuer: readName(issuer, 'issuer'),
    subject: readName(subject, 'subject'),
    notBefore: readDerTime(notBefore, 'notBefore'),
    notAfter: readDerTime(notAfter, 'notAfter'),
    publicKey: readPublicKey(publicKey),
    ...readExtensions(extensions),
  }
}

/**
 * Parses one certificate of the Nitro profile.
 * @throws AttestationError `ATTESTATION_CERT_MALFORMED`.
 */
export function parseCertificate(der: Uint8Array): NitroCertificate {
  if (der.length > CERTIFICATE_MAX_BYTES) throw certMalformed()
  try {
    const [tbs, algorithm, signature, extra] = readDerSequence(parseDer(der), 'certificate')
    if (algorithm === undefined || !bytesEqual(algorithm.tlv, ECDSA_WITH_SHA384) || extra !== undefined) {
      throw certMalformed()
    }
    const signatureBits = expectDerTag(signature, DerTag.BIT_STRING, 'signatureValue').content
    if (signatureBits[0] !== 0) throw certMalformed()
    return { tbs: tbs!.tlv, signature: signatureBits.subarray(1), ...readTbs(expectDerTag(tbs, DerTag.SEQUENCE, 'tbs')) }
  } catch (error) {
    if (error instanceof DerError) throw certMalformed(error)
    throw error
  }
}
