/**
 * The caller-policy steps of ATTESTATION.md §2, run only after the document is authentic:
 * freshness (step 8), nonce (step 9) and PCR policy (step 10), in that order.
 */
import { constantTimeEqual } from '../encoding'
import { AttestationError } from './errors'

const PCR_LENGTH = 48

/**
 * Step 8. Certificate validity alone allows ~3 h of replay; `maxAgeMs` and nonces close it.
 * @throws AttestationError `ATTESTATION_TIMESTAMP_IN_FUTURE`, `ATTESTATION_TOO_OLD`.
 */
export function checkFreshness(timestamp: number, at: number, maxAgeMs: number | undefined, maxFutureSkewMs: number): void {
  if (timestamp > at + maxFutureSkewMs) throw new AttestationError('ATTESTATION_TIMESTAMP_IN_FUTURE')
  if (maxAgeMs !== undefined && at - timestamp > maxAgeMs) throw new AttestationError('ATTESTATION_TOO_OLD')
}

/**
 * Step 9: with an expected nonce, the document's must be present and equal (constant time
 * after the length check).
 * @throws AttestationError `ATTESTATION_NONCE_MISMATCH`.
 */
export function checkNonce(nonce: Uint8Array | null, expectedNonce: Uint8Array | undefined): void {
  if (expectedNonce === undefined) return
  if (nonce === null || !constantTimeEqual(nonce, expectedNonce)) throw new AttestationError('ATTESTATION_NONCE_MISMATCH')
}

function isZero(pcr: Uint8Array | undefined): boolean {
  return pcr !== undefined && pcr.length === PCR_LENGTH && pcr.every((byte) => byte === 0)
}

/**
 * Step 10: debug mode (PCR0, PCR1 or PCR2 all zero) unless allowed, then each expected PCR,
 * compared as bytes in constant time, never as hex.
 * @throws AttestationError `ATTESTATION_DEBUG_MODE`, `ATTESTATION_PCR_MISMATCH`.
 */
export function checkPcrPolicy(
  pcrs: ReadonlyMap<number, Uint8Array>,
  allowDebugMode: boolean,
  expectedPcrs: ReadonlyMap<number, Uint8Array> | undefined,
): void {
  if (!allowDebugMode && (isZero(pcrs.get(0)) || isZero(pcrs.get(1)) || isZero(pcrs.get(2)))) {
    throw new AttestationError('ATTESTATION_DEBUG_MODE')
  }
  for (const [index, expected] of expectedPcrs ?? []) {
    const actual = pcrs.get(index)
    if (actual === undefined || !constantTimeEqual(actual, expected)) throw new AttestationError('ATTESTATION_PCR_MISMATCH')
  }
}
