import { parseBase64 } from '../encoding'
import { KmsError } from '../errors'
import { checkCsrKey, type CsrKeyType } from './_csrKey'
import { readCsrStructure } from './_csrStructure'
import { verifyCsrSignature } from './_csrSignature'
import { decodePem } from './_pem'

/** PROTOCOL §8.4 and §12.1: a CSR's DER is at most 8192 bytes. */
export const MAX_CSR_BYTES = 8192

/**
 * Text longer than this cannot be a CSR within the DER limit: 8192 bytes are 10924 base64
 * characters, and PEM adds a header, a footer and line breaks. Refusing it first means no
 * huge string is ever decoded.
 */
const MAX_CSR_TEXT_LENGTH = 2 * MAX_CSR_BYTES

/** A CSR that passed every PROTOCOL §8.4 check. Only its key is ever used. */
export interface ParsedCsr {
  readonly keyType: CsrKeyType
  /** The SubjectPublicKeyInfo DER exactly as received; the leaf copies it (§8.5 item 7). */
  readonly subjectPublicKeyInfo: Uint8Array
  /** The subjectPublicKey BIT STRING contents (the SEC1 point or the Ed25519 key). */
  readonly publicKey: Uint8Array
}

/**
 * Parses and checks an untrusted CSR (PROTOCOL §8.4): a PEM block labelled `CERTIFICATE
 * REQUEST` or `NEW CERTIFICATE REQUEST`, or standard base64 of the DER. The checks run in
 * the order §8.4 makes part of the contract: DER and version, then key and algorithm, then
 * the self-signature. Subject, attributes and requested extensions are ignored, so nothing
 * the requester asks for can reach a certificate.
 *
 * Messages are fixed and never echo the input.
 * @throws KmsError `invalid_csr` (encoding, size, DER, version, signature) or
 *   `unsupported_key` (key type, curve, point encoding, signature algorithm).
 */
export function parseCsr(text: string): ParsedCsr {
  const der = decodeCsrText(text)
  const structure = readCsrStructure(der)
  const scheme = checkCsrKey(structure)
  verifyCsrSignature(structure, scheme)
  return {
    keyType: scheme.keyType,
    subjectPublicKeyInfo: structure.subjectPublicKeyInfo.slice(),
    publicKey: structure.subjectPublicKey.slice(),
  }
}

function decodeCsrText(text: string): Uint8Array {
  if (text.length > MAX_CSR_TEXT_LENGTH) throw new KmsError('invalid_csr', 'Invalid CSR: too large')
  const der = text.trimStart().startsWith('-----BEGIN ')
    ? decodePem(text, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'])
    : parseBase64(text)
  if (der === undefined) throw new KmsError('invalid_csr', 'Invalid CSR: not PEM or base64')
  if (der.length > MAX_CSR_BYTES) throw new KmsError('invalid_csr', 'Invalid CSR: too large')
  return der
}
