import {
  DerError,
  DerTag,
  expectDerTag,
  parseDer,
  readDerBitStringBytes,
  readDerChildren,
  readDerInteger,
  readDerSequence,
  type DerElement,
} from '../encoding'
import { KmsError } from '../errors'
import { assertWellFormedDer } from './_derWellFormed'

/** `AlgorithmIdentifier { algorithm, parameters OPTIONAL }` (RFC 5280 §4.1.1.2), unread. */
export interface AlgorithmIdentifier {
  /** The OBJECT IDENTIFIER element; compared by its bytes, so any arc size is fine. */
  readonly oid: DerElement
  readonly parameters: DerElement | undefined
}

/** A PKCS#10 CertificationRequest (RFC 2986 §4) cut into the parts Nova KMS checks. */
export interface CsrStructure {
  /** The received `certificationRequestInfo` TLV: the exact bytes the signature covers. */
  readonly certificationRequestInfo: Uint8Array
  readonly subjectPublicKeyInfo: Uint8Array
  readonly keyAlgorithm: AlgorithmIdentifier
  /** The subjectPublicKey BIT STRING contents (no unused bits). */
  readonly subjectPublicKey: Uint8Array
  readonly signatureAlgorithm: AlgorithmIdentifier
  /** The signature BIT STRING contents (no unused bits). */
  readonly signature: Uint8Array
}

const ATTRIBUTES_TAG = 0xa0 // [0] IMPLICIT SET OF Attribute (RFC 2986 §4.1)

/**
 * PROTOCOL §8.4 check 2: strict DER with no trailing bytes, the RFC 2986 shape, and version 0.
 * The subject and attributes are checked for shape and well-formedness only, never read.
 * @throws KmsError `invalid_csr`
 */
export function readCsrStructure(der: Uint8Array): CsrStructure {
  let parsed: { version: Uint8Array; structure: CsrStructure }
  try {
    parsed = readStrictly(der)
  } catch (error) {
    if (error instanceof DerError) {
      throw new KmsError('invalid_csr', 'Invalid CSR: malformed DER', { cause: error, details: error.message })
    }
    throw error
  }
  // RFC 2986 §4.1: version is 0 (v1); no other version is defined.
  const { version } = parsed
  if (version.length !== 1 || version[0] !== 0) throw new KmsError('invalid_csr', 'Invalid CSR: version must be 0')
  return parsed.structure
}

/** @throws DerError */
function readStrictly(der: Uint8Array): { version: Uint8Array; structure: CsrStructure } {
  const root = parseDer(der)
  assertWellFormedDer(root)
  const [info, signatureAlgorithm, signature, ...extra] = readDerSequence(root, 'CertificationRequest')
  const [version, subject, spki, attributes, ...extraInfo] = readDerSequence(info, 'certificationRequestInfo')
  const [keyAlgorithm, subjectPublicKey, ...extraKey] = readDerSequence(spki, 'subjectPKInfo')
  if (extra.length + extraInfo.length + extraKey.length > 0) throw new DerError('unexpected trailing fields')
  assertName(subject)
  assertAttributes(attributes)
  return {
    version: readDerInteger(version, 'version'),
    structure: {
      certificationRequestInfo: info!.tlv,
      subjectPublicKeyInfo: spki!.tlv,
      keyAlgorithm: readAlgorithmIdentifier(keyAlgorithm),
      subjectPublicKey: readDerBitStringBytes(subjectPublicKey, 'subjectPublicKey'),
      signatureAlgorithm: readAlgorithmIdentifier(signatureAlgorithm),
      signature: readDerBitStringBytes(signature, 'signature'),
    },
  }
}

function readAlgorithmIdentifier(element: DerElement | undefined): AlgorithmIdentifier {
  const [oid, parameters, ...extra] = readDerSequence(element, 'AlgorithmIdentifier')
  if (extra.length > 0) throw new DerError('extra AlgorithmIdentifier fields')
  return { oid: expectDerTag(oid, DerTag.OID, 'algorithm'), parameters }
}

/** `Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type OID, value ANY }` (RFC 5280 §4.1.2.4). */
function assertName(element: DerElement | undefined): void {
  for (const rdn of readDerSequence(element, 'subject')) {
    const pairs = readDerChildren(expectDerTag(rdn, DerTag.SET, 'RelativeDistinguishedName'))
    if (pairs.length === 0) throw new DerError('empty RelativeDistinguishedName')
    for (const pair of pairs) assertTypeAndValue(pair, 'AttributeTypeAndValue')
  }
}

/** `[0] SET OF SEQUENCE { type OID, values SET SIZE (1..MAX) OF ANY }` (RFC 2986 §4.1). */
function assertAttributes(element: DerElement | undefined): void {
  for (const attribute of readDerChildren(expectDerTag(element, ATTRIBUTES_TAG, 'attributes'))) {
    const [, values] = assertTypeAndValue(attribute, 'Attribute')
    if (readDerChildren(expectDerTag(values, DerTag.SET, 'attribute values')).length === 0) {
      throw new DerError('empty attribute values')
    }
  }
}

function assertTypeAndValue(element: DerElement, what: string): DerElement[] {
  const children = readDerSequence(element, what)
  if (children.length !== 2) throw new DerError(`invalid ${what}`)
  expectDerTag(children[0], DerTag.OID, `${what} type`)
  return children
}
