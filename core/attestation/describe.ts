/**
 * Human-readable views of a decoded document's parts, shared by the CLI's
 * `verify-attestation` and the browser page web/verify: X.509 names as `CN=…, O=…`, a
 * certificate's subject, issuer and validity, and opaque byte fields as hex plus their text
 * when they are printable UTF-8. Display only: nothing here decides a verdict.
 */
import { bytesToHex, parseDer, parseUtf8, readDerChildren, readDerOid, readDerSequence } from '../encoding'
import { parseCertificate } from './certificate'
import { isAttestationError, type AttestationErrorCode } from './errors'

const NAME_ATTRIBUTES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
}

/**
 * An X.509 Name (DER, as {@link parseCertificate} returns it) as `CN=…, O=…`; unknown
 * attribute types by OID, non-UTF-8 values as hex.
 */
export function formatCertificateName(name: Uint8Array): string {
  const parts: string[] = []
  for (const rdn of readDerSequence(parseDer(name), 'name')) {
    for (const attribute of readDerChildren(rdn)) {
      const [type, value] = readDerSequence(attribute, 'attribute')
      const oid = readDerOid(type, 'attribute type')
      // parseCertificate has checked the shape: every attribute is { OID, value }.
      parts.push(`${NAME_ATTRIBUTES[oid] ?? oid}=${parseUtf8(value!.content) ?? bytesToHex(value!.content)}`)
    }
  }
  return parts.join(', ')
}

export interface CertificateSummary {
  subject: string
  issuer: string
  /** ISO 8601. */
  notBefore: string
  notAfter: string
}

/** A certificate's names and validity, or the verifier's code when it does not parse. */
export function summarizeCertificate(der: Uint8Array): CertificateSummary | { error: AttestationErrorCode } {
  try {
    const certificate = parseCertificate(der)
    return {
      subject: formatCertificateName(certificate.subject),
      issuer: formatCertificateName(certificate.issuer),
      notBefore: new Date(certificate.notBefore * 1000).toISOString(),
      notAfter: new Date(certificate.notAfter * 1000).toISOString(),
    }
  } catch (error) {
    if (isAttestationError(error)) return { error: error.attestationCode }
    throw error
  }
}

/** Text when the bytes are UTF-8 without control characters other than tab and line breaks. */
export function printableText(bytes: Uint8Array): string | undefined {
  const text = parseUtf8(bytes)
  return text !== undefined && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? text : undefined
}

export interface DescribedBytes {
  size: number
  hex: string
  /** Present when the bytes are printable UTF-8 ({@link printableText}). */
  utf8?: string
}

/** An opaque field (`public_key`, `user_data`, `nonce`): its size, hex and printable text. */
export function describeBytes(bytes: Uint8Array | null): DescribedBytes | null {
  if (bytes === null) return null
  const utf8 = printableText(bytes)
  return { size: bytes.length, hex: bytesToHex(bytes), ...(utf8 === undefined ? {} : { utf8 }) }
}
