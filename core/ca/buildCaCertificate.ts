import { sha1 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, derBitString, derOid, derSequence, derTime } from '../encoding'
import { assertBytes, assertInteger } from '../_assert'
import { MAX_KEY_EPOCH } from '../crypto'
import { serialFromBytes, signCertificate } from './_certificate'
import { encodeCaExtensions } from './_extensions'
import { encodeCaName } from './_names'
import { Oid } from './_oids'
import { encodePem } from './_pem'
import { deriveCaKey, type CaKey } from './deriveCaKey'

/** The fixed CA validity (PROTOCOL §8.2 item 5): UTCTime 250101000000Z .. 450101000000Z. */
const NOT_BEFORE_SECONDS = 1_735_689_600 // 2025-01-01T00:00:00Z
const NOT_AFTER_SECONDS = 2_366_841_600 // 2045-01-01T00:00:00Z

export type BuildCaCertificateParams = ({ masterSecret: Uint8Array } | { caKey: CaKey }) & {
  /** `KMS_APP_ID` (PROTOCOL §11); it becomes the subject's `OU=kms-app-<id>`. */
  kmsAppId: number
  /**
   * The cluster epoch c whose secret (`masterSecret`, or the one `caKey` was derived from)
   * this CA belongs to, 0..2^32−1; default 0. For c ≥ 1 the subject ends with
   * `dnQualifier=epoch-<c>` (§8.2 item 4); c = 0 is the §8.3 certificate, byte for byte.
   */
  epoch?: number
}

/** The cluster CA certificate, and what issuance and `GET /kms/ca` need from it. */
export interface CaCertificate {
  readonly der: Uint8Array
  /** PEM, 64-character lines, trailing newline (PROTOCOL §8.2). */
  readonly pem: string
  /** 64 lowercase hex digits of SHA-256(DER) (PROTOCOL §2.7). */
  readonly fingerprintSha256: string
  /** The subject Name DER; leaves copy it as their issuer (PROTOCOL §8.5 item 4). */
  readonly subject: Uint8Array
  /** SHA-1 of the 65-byte point (RFC 5280 §4.2.1.2 method 1); leaves cite it in their AKI. */
  readonly subjectKeyIdentifier: Uint8Array
}

/**
 * Builds the self-signed CA certificate of one cluster epoch (PROTOCOL §8.2). Every input is
 * fixed by the epoch's secret, `KMS_APP_ID` and the epoch: the serial comes from the SPKI, the validity is constant and
 * the signature is RFC 6979 deterministic, so every node, across restarts, serves the same
 * bytes (§13 items 94–96). The §8.3 vector pins the output.
 *
 * @throws TypeError | RangeError on a malformed secret, key, app id or epoch (a caller bug).
 */
export function buildCaCertificate(params: BuildCaCertificateParams): CaCertificate {
  assertInteger(params.kmsAppId, 'kmsAppId', 0)
  const epoch = params.epoch ?? 0
  assertInteger(epoch, 'epoch', 0, MAX_KEY_EPOCH)
  const caKey = 'caKey' in params ? params.caKey : deriveCaKey(params.masterSecret)
  assertBytes(caKey.privateKey, 'caKey.privateKey', 32)
  assertBytes(caKey.publicKey, 'caKey.publicKey', 65)
  const subjectPublicKeyInfo = derSequence(
    derSequence(derOid(Oid.ecPublicKey), derOid(Oid.prime256v1)),
    derBitString(caKey.publicKey),
  )
  const subjectKeyIdentifier = sha1(caKey.publicKey)
  const subject = encodeCaName(params.kmsAppId, epoch)
  const der = signCertificate(
    {
      serial: serialFromBytes(sha256(subjectPublicKeyInfo)),
      issuer: subject,
      notBefore: derTime(NOT_BEFORE_SECONDS),
      notAfter: derTime(NOT_AFTER_SECONDS),
      subject,
      subjectPublicKeyInfo,
      extensions: encodeCaExtensions(subjectKeyIdentifier),
    },
    caKey.privateKey,
  )
  return {
    der,
    pem: encodePem('CERTIFICATE', der),
    fingerprintSha256: bytesToHex(sha256(der)),
    subject,
    subjectKeyIdentifier,
  }
}
