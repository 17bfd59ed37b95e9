/**
 * `core/attestation` owns the AWS Nitro Enclaves attestation verifier of ATTESTATION.md:
 * the strict CBOR decoder, the COSE_Sign1 envelope and Sig_structure, the payload rules, the
 * AWS Root-G1 pin, the X.509 path check, freshness, nonce and PCR policy, the text input
 * rules, the code measurement, the display helpers shared by the CLI and the browser page
 * (`describe.ts`), and `AttestationError` with its wire mapping. It runs
 * unchanged in Node, workerd and browsers (it is also shipped as the browser verifier), and
 * it does nothing at import time.
 *
 * @module
 */
export { verifyNitroAttestation } from './verifyNitroAttestation'
export type { NitroAttestation, VerifyNitroAttestationOptions } from './types'
export { decodeNitroAttestationUnverified, ATTESTATION_DOCUMENT_MAX_BYTES } from './decodeNitroAttestation'
export {
  decodeAttestationText,
  detectAttestationFormat,
  ATTESTATION_TEXT_MAX_BYTES,
  type AttestationTextFormat,
  type AttestationInputFormat,
} from './text'
export { codeMeasurement } from './codeMeasurement'
export { buildSigStructure } from './sigStructure'
export { AWS_NITRO_ROOT_G1_SHA256, awsNitroRootG1Der, matchesAwsRootPin } from './rootPin'
export { loadTrustedRoot } from './trustedRoot'
export { parseCertificate, type NitroCertificate, type BasicConstraints, type KeyUsage } from './certificate'
export {
  describeBytes,
  formatCertificateName,
  printableText,
  summarizeCertificate,
  type CertificateSummary,
  type DescribedBytes,
} from './describe'
export {
  AttestationError,
  isAttestationError,
  ATTESTATION_ERROR_DESCRIPTIONS,
  ATTESTATION_WIRE_ERRORS,
  type AttestationErrorCode,
  type AttestationWireError,
} from './errors'
