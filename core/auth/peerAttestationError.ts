/**
 * The refusals of peer attestation (PROTOCOL §4.5), one stable name per check. A responder
 * answers 403 `unauthorized` with `Peer attestation rejected: <check>` (`Peer attestation
 * required` when there is no document); a requester logs the same text and skips the peer.
 * Both count the check in `/metrics` (`nova_kms_peer_attestations_total`).
 *
 * @module
 */
import { isAttestationError, type AttestationErrorCode } from '../attestation'
import { KmsError } from '../errors'

/** The checks of §4.5 that are not the verifier's own (those keep their `ATTESTATION_*` code). */
export const PEER_ATTESTATION_CHECKS = [
  'missing',
  'version not enrolled',
  'nonce mismatch',
  'wallet mismatch',
  'public key mismatch',
  'measurement mismatch',
  'missing nova_kms',
  'wrong purpose',
  'not for this node',
  'request digest mismatch',
  'unreadable answer',
] as const

export type PeerAttestationCheck = (typeof PEER_ATTESTATION_CHECKS)[number] | Exclude<AttestationErrorCode, 'ATTESTATION_OPTIONS_INVALID'>

export class PeerAttestationError extends KmsError {
  override readonly name: string = 'PeerAttestationError'
  readonly check: PeerAttestationCheck

  constructor(check: PeerAttestationCheck, options: { cause?: unknown } = {}) {
    super('unauthorized', check === 'missing' ? 'Peer attestation required' : `Peer attestation rejected: ${check}`, options)
    this.check = check
  }
}

export function isPeerAttestationError(value: unknown): value is PeerAttestationError {
  return value instanceof PeerAttestationError
}

/**
 * The verifier's failure as a peer-attestation refusal. `ATTESTATION_OPTIONS_INVALID` is a
 * caller bug and stays what it is (a 500), as everything else that is not a verifier error.
 */
export function asPeerAttestationError(error: unknown): unknown {
  if (isAttestationError(error) && error.attestationCode !== 'ATTESTATION_OPTIONS_INVALID') return new PeerAttestationError(error.attestationCode, { cause: error })
  return error
}
