/** Assertions shared by the attestation suites. */
import { expect } from 'vitest'
import { AttestationError, type AttestationErrorCode } from '../../../core/attestation'

/** The promise rejects with an `AttestationError` of exactly this code and its wire form. */
export async function expectAttestationError(promise: Promise<unknown>, code: AttestationErrorCode): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  expect(error, `expected ${code}`).toBeInstanceOf(AttestationError)
  expect((error as AttestationError).attestationCode).toBe(code)
}

/** Runs `action` and returns the code it failed with, or `'success'`. */
export async function outcome(action: () => Promise<unknown>): Promise<AttestationErrorCode | 'success'> {
  try {
    await action()
    return 'success'
  } catch (error) {
    if (error instanceof AttestationError) return error.attestationCode
    throw error
  }
}
