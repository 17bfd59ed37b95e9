/** The `AttestationError` shape and its one wire table (STYLE.md "Errors", PROTOCOL §3.2.2). */
import { describe, expect, test } from 'vitest'
import { AttestationError, ATTESTATION_WIRE_ERRORS, type AttestationErrorCode } from '../../../core/attestation'
import { KmsError } from '../../../core/errors'

describe('AttestationError', () => {
  test('behavior: a KmsError whose code, status and message are the wire form', () => {
    const error = new AttestationError('ATTESTATION_ROOT_UNTRUSTED')
    expect(error).toBeInstanceOf(KmsError)
    expect(error.attestationCode).toBe('ATTESTATION_ROOT_UNTRUSTED')
    expect(error.status).toBe(403)
    expect(error.toBody()).toEqual({ code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_ROOT_UNTRUSTED' })
  })

  test('behavior: OPTIONS_INVALID is a caller bug, a 500', () => {
    const error = new AttestationError('ATTESTATION_OPTIONS_INVALID')
    expect(error.status).toBe(500)
    expect(error.toBody()).toEqual({ code: 'internal_error', message: 'Internal error' })
  })

  test('vector: every other code is 403 unauthorized "Attestation rejected: <code>"', () => {
    const codes = Object.keys(ATTESTATION_WIRE_ERRORS) as AttestationErrorCode[]
    expect(codes).toHaveLength(20)
    for (const code of codes.filter((code) => code !== 'ATTESTATION_OPTIONS_INVALID')) {
      const error = new AttestationError(code)
      expect(error.toBody()).toEqual({ code: 'unauthorized', message: `Attestation rejected: ${code}` })
      expect(error.status).toBe(403)
    }
  })

  test('behavior: the message never carries the cause', () => {
    const error = new AttestationError('ATTESTATION_SIGNATURE_INVALID', { cause: new Error('secret library text') })
    expect(error.message).toBe('Attestation rejected: ATTESTATION_SIGNATURE_INVALID')
    expect(JSON.stringify(error.toBody())).not.toContain('secret')
  })
})
