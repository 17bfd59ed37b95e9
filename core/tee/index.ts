/**
 * `core/tee`: the enclave-helper interface (PROTOCOL §10) and its two implementations:
 * `createOdynTee`, the Odyn HTTP client used in enclave mode, and `createLocalTee`, the
 * in-process stand-in used in dev mode and tests (§10.3), plus the dev attestation issuer
 * (`devAttestation.ts`) that the stand-in is given. Both implementations reject with
 * `KmsError`s of the same codes, so callers never know which one they hold.
 *
 * @module
 */
export type { Tee, Eip1559Transaction, EncryptedForPeer, AttestationRequest } from './types'
export { createOdynTee, ODYN_TIMEOUT_MS, type OdynTeeOptions } from './odynTee'
export type { FetchFunction } from './_odynHttp'
export {
  createLocalTee,
  type LocalTeeOptions,
  type IssueAttestation,
  type IssueAttestationParams,
} from './localTee'
export { issueDevAttestation, devRootCertificateDer, type IssueDevAttestationParams } from './devAttestation'
