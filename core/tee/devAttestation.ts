/**
 * The dev stand-in's attestation documents (PROTOCOL §10.3): COSE_Sign1 ES384 documents in
 * the AWS shape, signed by a fresh P-384 leaf per document under a deterministic dev root, so
 * that the ATTESTATION.md verifier accepts them with `trustedRoot = devRootCertificateDer()`.
 * The dev root's key is public by design; only dev mode trusts it (PROTOCOL §3.2.3).
 *
 * This file holds its own tiny CBOR and certificate writers: they are for issuing only and
 * must stay off the verification path (ATTESTATION.md §4: no encoder belongs there).
 */
import { p384 } from '@noble/curves/nist.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha1 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { buildSigStructure } from '../attestation'
import {
  DerTag,
  canonicalJson,
  concatBytes,
  derBitString,
  derBoolean,
  derExplicit,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derSmallInteger,
  derTime,
  derTlv,
  derUtf8String,
  utf8ToBytes,
  type Wallet,
} from '../encoding'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { AttestationRequest } from './types'

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1'
const OID_SECP384R1 = '1.3.132.0.34'
const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3'
const OID_ORGANIZATION = '2.5.4.10'
const OID_COMMON_NAME = '2.5.4.3'
const OID_BASIC_CONSTRAINTS = '2.5.29.19'
const OID_KEY_USAGE = '2.5.29.15'
const OID_SUBJECT_KEY_IDENTIFIER = '2.5.29.14'

/** §10.3 / §8.2: the dev root's fixed validity, 2025-01-01 to 2045-01-01 (UTCTime). */
const ROOT_NOT_BEFORE_S = 1_735_689_600
const ROOT_NOT_AFTER_S = 2_366_841_600
const LEAF_BACKDATE_S = 60
const LEAF_LIFETIME_S = 3 * 3600
const PCR_COUNT = 16
const PCR_LENGTH = 48
/** What the verifier accepts for public_key, user_data and nonce (ATTESTATION.md §2 step 4). */
const OPTIONAL_FIELD_MAX_BYTES = 1024
/** `noble` wants 1.5× the scalar size of uniform input to reduce without bias. */
const LEAF_SEED_BYTES = 72

interface DevRoot {
  readonly secretKey: Uint8Array
  readonly subject: Uint8Array
  readonly certificate: Uint8Array
}

/**
 * The dev root is a pure function of constants, so memoising it cannot leak state between
 * callers or tests; it only spares one signature per document. Filled on first use, never
 * at module load (DESIGN §3).
 */
const memo: { root: DevRoot | undefined } = { root: undefined }

// ----------------------------------------------------------------------------------------
// Certificates (PROTOCOL §8.2 layout with the §10.3 differences)

function name(...attributes: readonly (readonly [string, string])[]): Uint8Array {
  return derSequence(...attributes.map(([oid, value]) => derSet(derSequence(derOid(oid), derUtf8String(value)))))
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value))
}

function p384Spki(point: Uint8Array): Uint8Array {
  return derSequence(derSequence(derOid(OID_EC_PUBLIC_KEY), derOid(OID_SECP384R1)), derBitString(point))
}

/** An INTEGER whose content is exactly these bytes after the §8.2 top-byte rule. */
function serialNumber(bytes: Uint8Array): Uint8Array {
  const serial = bytes.slice(0, 16)
  serial[0] = serial[0]! & 0x7f
  if (serial[0] === 0) serial[0] = 0x01
  return derTlv(DerTag.INTEGER, serial)
}

interface TbsFields {
  serial: Uint8Array
  issuer: Uint8Array
  notBeforeS: number
  notAfterS: number
  subject: Uint8Array
  point: Uint8Array
  extensions: readonly Uint8Array[]
}

/** Builds the tbsCertificate and signs it ECDSA-SHA384 (RFC 6979, low-S) with `issuerKey`. */
function signCertificate(fields: TbsFields, issuerKey: Uint8Array): Uint8Array {
  const algorithm = derSequence(derOid(OID_ECDSA_WITH_SHA384))
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    fields.serial,
    algorithm,
    fields.issuer,
    derSequence(derTime(fields.notBeforeS), derTime(fields.notAfterS)),
    fields.subject,
    p384Spki(fields.point),
    derExplicit(3, derSequence(...fields.extensions)),
  )
  return derSequence(tbs, algorithm, derBitString(p384.sign(tbs, issuerKey, { format: 'der' })))
}

/** `(int_be(HKDF-SHA256(IKM, salt="", info="p384", L=64)) mod (n−1)) + 1` (PROTOCOL §10.3). */
function devRootSecretKey(): Uint8Array {
  const seed = hkdf(sha256, utf8ToBytes('nova-kms dev attestation root'), new Uint8Array(0), utf8ToBytes('p384'), 64)
  let value = 0n
  for (const byte of seed) value = (value << 8n) | BigInt(byte)
  const scalar = (value % (p384.Point.CURVE().n - 1n)) + 1n
  return p384.Point.Fn.toBytes(scalar)
}

function devRoot(): DevRoot {
  if (memo.root !== undefined) return memo.root
  const secretKey = devRootSecretKey()
  const point = p384.getPublicKey(secretKey, false)
  const subject = name([OID_ORGANIZATION, 'Nova KMS Dev'], [OID_COMMON_NAME, 'Nova KMS Dev Attestation Root'])
  const certificate = signCertificate(
    {
      serial: serialNumber(sha256(p384Spki(point))),
      issuer: subject,
      notBeforeS: ROOT_NOT_BEFORE_S,
      notAfterS: ROOT_NOT_AFTER_S,
      subject,
      point,
      extensions: [
        // CA:TRUE without pathLen (§10.3), unlike the §8.2 CA's pathLen 0.
        extension(OID_BASIC_CONSTRAINTS, true, derSequence(derBoolean(true))),
        // keyCertSign and cRLSign.
        extension(OID_KEY_USAGE, true, Uint8Array.of(0x03, 0x02, 0x01, 0x06)),
        // RFC 5280 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
        extension(OID_SUBJECT_KEY_IDENTIFIER, false, derOctetString(sha1(point))),
      ],
    },
    secretKey,
  )
  memo.root = { secretKey, subject, certificate }
  return memo.root
}

/**
 * The dev attestation root (DER, 510 B, SHA-256 `47269536…8439`), a fresh copy. Dev mode
 * passes it as the verifier's `trustedRoot` (PROTOCOL §3.2.3).
 */
export function devRootCertificateDer(): Uint8Array {
  return devRoot().certificate.slice()
}

/** A leaf in the AWS leaf profile: BC CA:false critical, KU digitalSignature not critical. */
function issueLeaf(root: DevRoot, nowMs: number, random: Random): { secretKey: Uint8Array; certificate: Uint8Array } {
  const secretKey = p384.utils.randomSecretKey(random.bytes(LEAF_SEED_BYTES))
  const nowS = Math.floor(nowMs / 1000)
  const certificate = signCertificate(
    {
      serial: serialNumber(random.bytes(16)),
      issuer: root.subject,
      notBeforeS: nowS - LEAF_BACKDATE_S,
      notAfterS: nowS + LEAF_LIFETIME_S,
      subject: name([OID_COMMON_NAME, 'nova-dev-enclave']),
      point: p384.getPublicKey(secretKey, false),
      extensions: [
        extension(OID_BASIC_CONSTRAINTS, true, derSequence()),
        extension(OID_KEY_USAGE, false, Uint8Array.of(0x03, 0x02, 0x07, 0x80)),
      ],
    },
    root.secretKey,
  )
  return { secretKey, certificate }
}

// ----------------------------------------------------------------------------------------
// CBOR (RFC 8949 shortest form, except the timestamp, which AWS writes as `1b`)

function cborHead(major: number, value: number): Uint8Array {
  const type = major << 5
  if (value < 24) return Uint8Array.of(type | value)
  if (value < 0x100) return Uint8Array.of(type | 24, value)
  if (value < 0x1_0000) return Uint8Array.of(type | 25, value >> 8, value & 0xff)
  return Uint8Array.of(type | 26, value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
}

function cborBytes(bytes: Uint8Array): Uint8Array {
  return concatBytes(cborHead(2, bytes.length), bytes)
}

function cborText(text: string): Uint8Array {
  const bytes = utf8ToBytes(text)
  return concatBytes(cborHead(3, bytes.length), bytes)
}

function cborUint64(value: number): Uint8Array {
  const out = new Uint8Array(9)
  out[0] = 0x1b
  new DataView(out.buffer).setBigUint64(1, BigInt(value))
  return out
}


// ----------------------------------------------------------------------------------------
// Documents

export interface IssueDevAttestationParams {
  request: AttestationRequest
  /** The stand-in's wallet, injected as `user_data.eth_addr`. */
  wallet: Wallet
  /** The stand-in's teePubkey (DER SPKI), embedded when `request.publicKeyDer` is absent. */
  teePublicKeyDer: Uint8Array
  /** The document's `timestamp`; the leaf is valid from 60 s before to 3 h after. */
  nowMs: number
  /** Source of the leaf key and serial. */
  random: Random
  /** PCR index → 48 bytes, replacing PCR0..15 = zero (tests of measurements and policy). */
  pcrs?: ReadonlyMap<number, Uint8Array>
}

/** Odyn refuses what the NSM refuses; the stand-in fails the same way (PROTOCOL §10.1). */
function checkFieldSize(field: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length > OPTIONAL_FIELD_MAX_BYTES) {
    throw new KmsError('service_unavailable', 'Enclave helper unavailable', {
      details: `dev attestation: ${field} over ${OPTIONAL_FIELD_MAX_BYTES} bytes`,
    })
  }
  return bytes
}

function pcrMap(overrides: ReadonlyMap<number, Uint8Array> | undefined): Uint8Array {
  const pcrs = new Map<number, Uint8Array>()
  for (let index = 0; index < PCR_COUNT; index++) pcrs.set(index, new Uint8Array(PCR_LENGTH))
  for (const [index, value] of overrides ?? []) {
    if (!Number.isInteger(index) || index < 0 || index > 31 || value.length !== PCR_LENGTH) {
      throw new RangeError('pcrs: expected indices 0..31 and 48-byte values')
    }
    pcrs.set(index, value)
  }
  const sorted = [...pcrs].sort(([left], [right]) => left - right)
  return concatBytes(cborHead(5, sorted.length), ...sorted.flatMap(([index, value]) => [cborHead(0, index), cborBytes(value)]))
}

/**
 * Issues a dev attestation document (PROTOCOL §10.3): untagged COSE_Sign1, protected
 * `{1: -35}`, empty unprotected header, and the nine payload keys in AWS order.
 * @returns the COSE_Sign1 bytes.
 * @throws KmsError `service_unavailable` if nonce, public key or user data exceeds 1024 B.
 */
export async function issueDevAttestation(params: IssueDevAttestationParams): Promise<Uint8Array> {
  const { request, wallet, nowMs, random } = params
  const root = devRoot()
  const leaf = issueLeaf(root, nowMs, random)
  const userData = utf8ToBytes(canonicalJson({ ...request.userData, eth_addr: wallet }))
  const payload = concatBytes(
    cborHead(5, 9),
    cborText('module_id'),
    cborText('nova-dev-enclave'),
    cborText('digest'),
    cborText('SHA384'),
    cborText('timestamp'),
    cborUint64(nowMs),
    cborText('pcrs'),
    pcrMap(params.pcrs),
    cborText('certificate'),
    cborBytes(leaf.certificate),
    cborText('cabundle'),
    cborHead(4, 1),
    cborBytes(root.certificate),
    cborText('public_key'),
    cborBytes(checkFieldSize('public_key', request.publicKeyDer ?? params.teePublicKeyDer)),
    cborText('user_data'),
    cborBytes(checkFieldSize('user_data', userData)),
    cborText('nonce'),
    cborBytes(checkFieldSize('nonce', request.nonce)),
  )
  const protectedHeader = Uint8Array.of(0xa1, 0x01, 0x38, 0x22)
  const signature = p384.sign(buildSigStructure({ protectedHeader, payload }), leaf.secretKey, { format: 'compact' })
  return concatBytes(cborHead(4, 4), cborBytes(protectedHeader), Uint8Array.of(0xa0), cborBytes(payload), cborBytes(signature))
}
