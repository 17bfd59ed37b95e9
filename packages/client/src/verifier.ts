/**
 * The attestation verifier alone: the part of `@nova-kms/client` that checks an AWS Nitro
 * document (ATTESTATION.md). `index.ts` re-exports it; `build.ts` also bundles it by itself
 * to report what the verifier weighs without the rest of the SDK.
 *
 * @module
 */
export { verifyNitroAttestation } from '../../../core/attestation/verifyNitroAttestation'
export type { NitroAttestation, VerifyNitroAttestationOptions } from '../../../core/attestation/types'
export { decodeNitroAttestationUnverified, ATTESTATION_DOCUMENT_MAX_BYTES } from '../../../core/attestation/decodeNitroAttestation'
export {
  decodeAttestationText,
  detectAttestationFormat,
  ATTESTATION_TEXT_MAX_BYTES,
  type AttestationTextFormat,
  type AttestationInputFormat,
} from '../../../core/attestation/text'
export { codeMeasurement } from '../../../core/attestation/codeMeasurement'
export { loadTrustedRoot } from '../../../core/attestation/trustedRoot'
export { AWS_NITRO_ROOT_G1_SHA256 } from '../../../core/attestation/rootPin'
export {
  AttestationError,
  isAttestationError,
  ATTESTATION_ERROR_DESCRIPTIONS,
  type AttestationErrorCode,
} from '../../../core/attestation/errors'
