/**
 * A synthetic Nitro chain and documents (ATTESTATION.md §6.4): five P-384 keys (root,
 * regional, zonal, instance, leaf) with fixed secrets, so noble's deterministic signatures
 * make every document reproducible; certificates from `core/encoding`'s DER writer in the
 * AWS profile; documents in the AWS shape, signed over a Sig_structure built here with the
 * test-side writer (independently of the verifier's hand-built one).
 */
import { p256, p384 } from '@noble/curves/nist.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import {
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
} from '../../../core/encoding'
import { CborArrayValue, CborMapValue, CborUint64, encodeCbor, type CborValue } from './cborWriter'
import { buildNitroDocument, ES384_PROTECTED } from './document'

export const ECDSA_WITH_SHA384 = derSequence(derOid('1.2.840.10045.4.3.3'))
export const ECDSA_WITH_SHA256 = derSequence(derOid('1.2.840.10045.4.3.2'))
export const ECDSA_WITH_SHA512 = derSequence(derOid('1.2.840.10045.4.3.4'))

export type Role = 'root' | 'regional' | 'zonal' | 'instance' | 'extra' | 'leaf'

/** A fixed P-384 secret per role, derived from its name. */
export function syntheticSecretKey(role: Role | string): Uint8Array {
  const seed = hkdf(sha256, new TextEncoder().encode(`nova-kms synthetic ${role}`), new Uint8Array(0), new Uint8Array(0), 72)
  return p384.utils.randomSecretKey(seed)
}

export function p384Spki(point: Uint8Array): Uint8Array {
  return derSequence(derSequence(derOid('1.2.840.10045.2.1'), derOid('1.3.132.0.34')), derBitString(point))
}

export function p256Spki(point: Uint8Array): Uint8Array {
  return derSequence(derSequence(derOid('1.2.840.10045.2.1'), derOid('1.2.840.10045.3.1.7')), derBitString(point))
}

export function syntheticName(commonName: string): Uint8Array {
  const rdn = (oid: string, value: string): Uint8Array => derSet(derSequence(derOid(oid), derUtf8String(value)))
  return derSequence(rdn('2.5.4.6', 'US'), rdn('2.5.4.10', 'Synthetic'), rdn('2.5.4.3', commonName))
}

/** X.509 extensions, each a DER `Extension`. */
export const extensions = {
  basicConstraints(options: { ca: boolean; pathLen?: number; critical?: boolean }): Uint8Array {
    const fields: Uint8Array[] = []
    if (options.ca) fields.push(derBoolean(true))
    if (options.pathLen !== undefined) fields.push(derSmallInteger(options.pathLen))
    return extension('2.5.29.19', options.critical ?? true, derSequence(...fields))
  },
  /** `bits` are RFC 5280 KeyUsage bit numbers (0 digitalSignature, 5 keyCertSign, …). */
  keyUsage(bits: readonly number[], critical = true): Uint8Array {
    const bytes = [0, 0]
    for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7)
    const used = bytes[1] !== 0 ? 2 : 1
    const last = bytes[used - 1]!
    let unused = 0
    while (unused < 8 && last !== 0 && (last & (1 << unused)) === 0) unused++
    const content = last === 0 ? Uint8Array.of(0) : Uint8Array.of(unused, ...bytes.slice(0, used))
    return extension('2.5.29.15', critical, derTlv(0x03, content))
  },
  /** An extension no verifier knows (a private OID). */
  unknown(critical: boolean): Uint8Array {
    return extension('1.3.6.1.4.1.99999.1', critical, derOctetString(Uint8Array.of(1, 2, 3)))
  },
}

function extension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value))
}

export interface CertificateSpec {
  subject: Uint8Array
  issuer: Uint8Array
  spki: Uint8Array
  notBeforeS: number
  notAfterS: number
  extensions: readonly Uint8Array[]
  serial: Uint8Array
  tbsAlgorithm: Uint8Array
  outerAlgorithm: Uint8Array
  /** The issuer's P-384 secret key. */
  issuerKey: Uint8Array
  /** The digest signed: SHA-384 unless a test signs an ecdsa-with-SHA256 certificate. */
  digest: 'sha384' | 'sha256'
}

/** Builds and signs (`p384.sign(tbs, parentKey, { format: 'der' })`) one certificate. */
export function makeCertificate(spec: CertificateSpec): Uint8Array {
  const tbs = derSequence(
    derExplicit(0, derSmallInteger(2)),
    spec.serial,
    spec.tbsAlgorithm,
    spec.issuer,
    derSequence(derTime(spec.notBeforeS), derTime(spec.notAfterS)),
    spec.subject,
    spec.spki,
    ...(spec.extensions.length === 0 ? [] : [derExplicit(3, derSequence(...spec.extensions))]),
  )
  const signature =
    spec.digest === 'sha384'
      ? p384.sign(tbs, spec.issuerKey, { format: 'der' })
      : p384.sign(sha256(tbs), spec.issuerKey, { format: 'der', prehash: false })
  return derSequence(tbs, spec.outerAlgorithm, derBitString(signature))
}

export interface SyntheticChainOptions {
  /** The document time; the leaf is valid from 3 s before it to 3 h after. */
  nowMs: number
  /**
   * pathLen of each CA below the root, root side first. Default `[2, 1, 0]` (AWS: regional,
   * zonal, instance); `[]` makes the root sign the leaf directly.
   */
  pathLens?: readonly (number | undefined)[]
  rootNotAfterS?: number
  /** Edits a certificate's spec before it is signed. */
  edit?: Partial<Record<Role, (spec: CertificateSpec) => CertificateSpec>>
}

export interface SyntheticChain {
  readonly root: Uint8Array
  /** Root first. */
  readonly cabundle: readonly Uint8Array[]
  readonly leaf: Uint8Array
  readonly leafKey: Uint8Array
}

const INTERMEDIATE_ROLES: readonly Role[] = ['regional', 'zonal', 'instance', 'extra']
const ROOT_NOT_BEFORE_S = Date.UTC(2019, 9, 28, 13, 28, 5) / 1000
const ROOT_NOT_AFTER_S = Date.UTC(2049, 9, 28, 14, 28, 5) / 1000
const DAY_S = 86_400

export function buildSyntheticChain(options: SyntheticChainOptions): SyntheticChain {
  const nowS = Math.floor(options.nowMs / 1000)
  const pathLens = options.pathLens ?? [2, 1, 0]
  const roles: Role[] = ['root', ...INTERMEDIATE_ROLES.slice(0, pathLens.length)]
  const cabundle: Uint8Array[] = []
  let issuerName = syntheticName('root.synthetic')
  let issuerKey = syntheticSecretKey('root')
  for (const [index, role] of roles.entries()) {
    const key = syntheticSecretKey(role)
    const isRoot = index === 0
    const subject = syntheticName(`${role}.synthetic`)
    const spec: CertificateSpec = {
      subject,
      issuer: isRoot ? subject : issuerName,
      spki: p384Spki(p384.getPublicKey(key, false)),
      notBeforeS: isRoot ? ROOT_NOT_BEFORE_S : nowS - DAY_S,
      notAfterS: isRoot ? (options.rootNotAfterS ?? ROOT_NOT_AFTER_S) : nowS + 5 * DAY_S,
      extensions: [
        extensions.basicConstraints({ ca: true, pathLen: isRoot ? undefined : pathLens[index - 1] }),
        extensions.keyUsage([0, 5, 6]),
      ],
      serial: derSmallInteger(1000 + index),
      tbsAlgorithm: ECDSA_WITH_SHA384,
      outerAlgorithm: ECDSA_WITH_SHA384,
      issuerKey: isRoot ? key : issuerKey,
      digest: 'sha384',
    }
    cabundle.push(makeCertificate(options.edit?.[role]?.(spec) ?? spec))
    issuerName = subject
    issuerKey = key
  }
  const leafKey = syntheticSecretKey('leaf')
  const leafSpec: CertificateSpec = {
    subject: syntheticName('leaf.synthetic'),
    issuer: issuerName,
    spki: p384Spki(p384.getPublicKey(leafKey, false)),
    notBeforeS: nowS - 3,
    notAfterS: nowS + 3 * 3600,
    // AWS leaf: BC CA:FALSE critical; KU digitalSignature + nonRepudiation, not critical.
    extensions: [extensions.basicConstraints({ ca: false }), extensions.keyUsage([0, 1], false)],
    serial: derSmallInteger(2000),
    tbsAlgorithm: ECDSA_WITH_SHA384,
    outerAlgorithm: ECDSA_WITH_SHA384,
    issuerKey,
    digest: 'sha384',
  }
  const leaf = makeCertificate(options.edit?.leaf?.(leafSpec) ?? leafSpec)
  return { root: cabundle[0]!, cabundle, leaf, leafKey }
}

/** PCR index → 48 bytes; PCR0–2 non-zero unless `debug`. */
export function syntheticPcrs(count = 16, debug = false): CborMapValue {
  const entries: [CborValue, CborValue][] = []
  for (let index = 0; index < count; index++) {
    entries.push([index, new Uint8Array(48).fill(debug && index < 3 ? 0 : index + 1)])
  }
  return new CborMapValue(entries)
}

/** The nine keys in AWS order, with the timestamp as `1b`. */
export function syntheticPayload(chain: SyntheticChain, timestampMs: number): CborMapValue {
  return new CborMapValue([
    ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
    ['digest', 'SHA384'],
    ['timestamp', new CborUint64(timestampMs)],
    ['pcrs', syntheticPcrs()],
    ['certificate', chain.leaf],
    ['cabundle', new CborArrayValue([...chain.cabundle])],
    ['public_key', new TextEncoder().encode('synthetic public key')],
    ['user_data', new TextEncoder().encode('{"eth_addr":"0x00000000000000000000000000000000000000aa"}')],
    ['nonce', Uint8Array.from({ length: 16 }, (_, index) => index)],
  ])
}

/** The P-384 group order, for high-S variants (s → n − s). */
const P384_N = p384.Point.CURVE().n

/**
 * Signs `payload` with `leafKey` (ES384 over Sig_structure) and wraps it the AWS way:
 * `84 44a1013822 a0 bstr(payload) 58 60 r‖s`.
 */
export function signSyntheticDocument(payload: Uint8Array, leafKey: Uint8Array, highS = false): Uint8Array {
  const sigStructure = encodeCbor(new CborArrayValue(['Signature1', ES384_PROTECTED, new Uint8Array(0), payload]))
  const signature = p384.sign(sigStructure, leafKey, { format: 'compact' })
  if (highS) {
    let s = 0n
    for (const byte of signature.subarray(48)) s = (s << 8n) | BigInt(byte)
    const flipped = (P384_N - s).toString(16).padStart(96, '0')
    signature.set(Uint8Array.from(flipped.match(/../g)!, (pair) => parseInt(pair, 16)), 48)
  }
  return buildNitroDocument({
    tagged: false,
    protectedHeader: ES384_PROTECTED,
    unprotected: new CborMapValue([]),
    payload,
    signature,
  })
}

/** A P-256 point, for the out-of-profile key case. */
export function p256Point(): Uint8Array {
  return p256.getPublicKey(p256.utils.randomSecretKey(new Uint8Array(48).fill(7)), false)
}
