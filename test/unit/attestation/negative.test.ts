/** ATTESTATION.md §6.2: the two published documents that must be rejected. */
import { describe, expect, test } from 'vitest'
import { decodeNitroAttestationUnverified, verifyNitroAttestation } from '../../../core/attestation'
import { readFixtureDocument } from '../../helpers/nitro/fixtures'
import { expectAttestationError } from './_expect'

describe('negative fixtures', () => {
  test('error: base-nitro-validator (3 B short of its length prefixes) is CBOR_MALFORMED', async () => {
    const document = readFixtureDocument('negative/base-nitro-validator-2026-01-03.as-published-truncated.b64')
    expect(document.length).toBe(4479)
    await expectAttestationError(verifyNitroAttestation(document, { at: Date.UTC(2026, 0, 3) }), 'ATTESTATION_CBOR_MALFORMED')
    expect(() => decodeNitroAttestationUnverified(document)).toThrow(expect.objectContaining({ attestationCode: 'ATTESTATION_CBOR_MALFORMED' }))
  })

  test('error: blocky self-signed (unprotected header null) is COSE_MALFORMED', async () => {
    const document = readFixtureDocument('negative/blocky-selfsigned_attestation.b64')
    expect(document.length).toBe(2428)
    await expectAttestationError(
      verifyNitroAttestation(document, { at: 1_713_379_906_000, allowDebugMode: true }),
      'ATTESTATION_COSE_MALFORMED',
    )
  })
})
