/**
 * `AttestationError`: the one failure type of the verifier (ATTESTATION.md §1 "Errors").
 *
 * `KmsError.code` is a wire code (PROTOCOL §12.4), so the `ATTESTATION_*` code travels in
 * `attestationCode` (PROTOCOL §3.2.2 calls it the reason). `code`, `status` and `message` are
 * already the wire form, looked up in `ATTESTATION_WIRE_ERRORS`, so the bundle's error handler needs
 * no special case. Nothing else is carried: no input bytes, no library text, no partial
 * result. A library exception is kept only as `cause`, which never reaches the wire.
 */
import { KmsError, type ErrorCode } from '../errors'

/** The codes of ATTESTATION.md §1, in the order of the §2 steps. */
export type AttestationErrorCode =
  | 'ATTESTATION_OPTIONS_INVALID'
  | 'ATTESTATION_INPUT_TOO_LARGE'
  | 'ATTESTATION_INPUT_ENCODING'
  | 'ATTESTATION_CBOR_MALFORMED'
  | 'ATTESTATION_CBOR_DUPLICATE_KEY'
  | 'ATTESTATION_COSE_MALFORMED'
  | 'ATTESTATION_COSE_UNSUPPORTED_HEADER'
  | 'ATTESTATION_PAYLOAD_MALFORMED'
  | 'ATTESTATION_ROOT_UNTRUSTED'
  | 'ATTESTATION_CERT_MALFORMED'
  | 'ATTESTATION_CHAIN_BROKEN'
  | 'ATTESTATION_CHAIN_CONSTRAINTS'
  | 'ATTESTATION_CERT_NOT_YET_VALID'
  | 'ATTESTATION_CERT_EXPIRED'
  | 'ATTESTATION_SIGNATURE_INVALID'
  | 'ATTESTATION_TIMESTAMP_IN_FUTURE'
  | 'ATTESTATION_TOO_OLD'
  | 'ATTESTATION_NONCE_MISMATCH'
  | 'ATTESTATION_DEBUG_MODE'
  | 'ATTESTATION_PCR_MISMATCH'

/** One fixed, content-free description per code, for logs and the operator CLI. */
export const ATTESTATION_ERROR_DESCRIPTIONS: Readonly<Record<AttestationErrorCode, string>> = {
  ATTESTATION_OPTIONS_INVALID: 'verifier options are invalid (caller bug)',
  ATTESTATION_INPUT_TOO_LARGE: 'document over 16384 bytes, or text over 64 KiB',
  ATTESTATION_INPUT_ENCODING: 'text is not valid base64 or hex',
  ATTESTATION_CBOR_MALFORMED: 'CBOR is ill-formed, truncated, outside the accepted subset or over a limit',
  ATTESTATION_CBOR_DUPLICATE_KEY: 'a CBOR map repeats a key',
  ATTESTATION_COSE_MALFORMED: 'COSE_Sign1 envelope has the wrong shape, tag, header or item size',
  ATTESTATION_COSE_UNSUPPORTED_HEADER: 'protected header is not exactly {1: -35}',
  ATTESTATION_PAYLOAD_MALFORMED: 'payload field missing, mistyped or out of bounds',
  ATTESTATION_ROOT_UNTRUSTED: 'cabundle[0] is not the trusted root',
  ATTESTATION_CERT_MALFORMED: 'certificate is not strict DER or is outside the P-384/ecdsa-with-SHA384 profile',
  ATTESTATION_CHAIN_BROKEN: 'issuer does not match the parent subject, or a certificate signature fails',
  ATTESTATION_CHAIN_CONSTRAINTS: 'basicConstraints, keyUsage, pathLen or critical extension check failed',
  ATTESTATION_CERT_NOT_YET_VALID: 'a certificate is not yet valid at the verification time',
  ATTESTATION_CERT_EXPIRED: 'a certificate has expired at the verification time',
  ATTESTATION_SIGNATURE_INVALID: 'COSE signature does not verify under the leaf key',
  ATTESTATION_TIMESTAMP_IN_FUTURE: 'document timestamp lies too far after the verification time',
  ATTESTATION_TOO_OLD: 'document is older than the maximum age',
  ATTESTATION_NONCE_MISMATCH: 'document nonce is missing or differs from the expected nonce',
  ATTESTATION_DEBUG_MODE: 'debug-mode document (PCR0, PCR1 or PCR2 is zero)',
  ATTESTATION_PCR_MISMATCH: 'a PCR is missing or differs from the expected value',
}

export interface AttestationWireError {
  readonly code: ErrorCode
  readonly message: string
}

/**
 * The one code → wire table (STYLE.md "Errors", PROTOCOL §3.2.2): every code is 403
 * `unauthorized` with `Attestation rejected: <code>`, except `OPTIONS_INVALID`, which is a
 * caller bug and therefore a 500 (PROTOCOL §12.4: "bugs only").
 */
export const ATTESTATION_WIRE_ERRORS: Readonly<Record<AttestationErrorCode, AttestationWireError>> = {
  ATTESTATION_OPTIONS_INVALID: { code: 'internal_error', message: 'Internal error' },
  ATTESTATION_INPUT_TOO_LARGE: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_INPUT_TOO_LARGE' },
  ATTESTATION_INPUT_ENCODING: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_INPUT_ENCODING' },
  ATTESTATION_CBOR_MALFORMED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CBOR_MALFORMED' },
  ATTESTATION_CBOR_DUPLICATE_KEY: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CBOR_DUPLICATE_KEY' },
  ATTESTATION_COSE_MALFORMED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_COSE_MALFORMED' },
  ATTESTATION_COSE_UNSUPPORTED_HEADER: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_COSE_UNSUPPORTED_HEADER' },
  ATTESTATION_PAYLOAD_MALFORMED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_PAYLOAD_MALFORMED' },
  ATTESTATION_ROOT_UNTRUSTED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_ROOT_UNTRUSTED' },
  ATTESTATION_CERT_MALFORMED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CERT_MALFORMED' },
  ATTESTATION_CHAIN_BROKEN: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CHAIN_BROKEN' },
  ATTESTATION_CHAIN_CONSTRAINTS: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CHAIN_CONSTRAINTS' },
  ATTESTATION_CERT_NOT_YET_VALID: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CERT_NOT_YET_VALID' },
  ATTESTATION_CERT_EXPIRED: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_CERT_EXPIRED' },
  ATTESTATION_SIGNATURE_INVALID: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_SIGNATURE_INVALID' },
  ATTESTATION_TIMESTAMP_IN_FUTURE: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_TIMESTAMP_IN_FUTURE' },
  ATTESTATION_TOO_OLD: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_TOO_OLD' },
  ATTESTATION_NONCE_MISMATCH: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_NONCE_MISMATCH' },
  ATTESTATION_DEBUG_MODE: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_DEBUG_MODE' },
  ATTESTATION_PCR_MISMATCH: { code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_PCR_MISMATCH' },
}

/**
 * A verifier failure. `attestationCode` is the `ATTESTATION_*` code; `code`, `status` and
 * `message` are its wire form; `details` is the fixed description.
 */
export class AttestationError extends KmsError {
  override readonly name: string = 'AttestationError'
  readonly attestationCode: AttestationErrorCode

  constructor(attestationCode: AttestationErrorCode, options: { cause?: unknown } = {}) {
    const wire = ATTESTATION_WIRE_ERRORS[attestationCode]
    super(wire.code, wire.message, { details: ATTESTATION_ERROR_DESCRIPTIONS[attestationCode], cause: options.cause })
    this.attestationCode = attestationCode
  }
}

export function isAttestationError(value: unknown): value is AttestationError {
  return value instanceof AttestationError
}
