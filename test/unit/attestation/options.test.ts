/** ATTESTATION.md §1: invalid options are a caller bug, rejected before the document is read. */
import { describe, test } from 'vitest'
import { verifyNitroAttestation, type VerifyNitroAttestationOptions } from '../../../core/attestation'
import { expectAttestationError } from './_expect'

/** Not even CBOR: a valid option set would fail on the document, not on the options. */
const GARBAGE = Uint8Array.of(0xff)

describe('options', () => {
  test.each([
    ['no options', undefined],
    ['null options', null],
    ['an array', []],
    ['a missing at', {}],
    ['a fractional at', { at: 1.5 }],
    ['a negative at', { at: -1 }],
    ['a string at', { at: '1700000000000' }],
    ['an unknown option (a typo)', { at: 0, expectedNonse: new Uint8Array(16) }],
    ['a nonce over 1024 B', { at: 0, expectedNonce: new Uint8Array(1025) }],
    ['a nonce that is not bytes', { at: 0, expectedNonce: 'abc' }],
    ['a negative maxAgeMs', { at: 0, maxAgeMs: -1 }],
    ['an infinite maxFutureSkewMs', { at: 0, maxFutureSkewMs: Infinity }],
    ['expectedPcrs as an object', { at: 0, expectedPcrs: { 0: new Uint8Array(48) } }],
    ['a PCR index of 32', { at: 0, expectedPcrs: new Map([[32, new Uint8Array(48)]]) }],
    ['a PCR of 47 B', { at: 0, expectedPcrs: new Map([[0, new Uint8Array(47)]]) }],
    ['a string allowDebugMode', { at: 0, allowDebugMode: 'yes' }],
    ['an empty trustedRoot', { at: 0, trustedRoot: new Uint8Array(0) }],
    ['a trustedRoot over 1024 B', { at: 0, trustedRoot: new Uint8Array(1025) }],
  ])('error: %s is OPTIONS_INVALID', async (_name, options) => {
    await expectAttestationError(
      verifyNitroAttestation(GARBAGE, options as unknown as VerifyNitroAttestationOptions),
      'ATTESTATION_OPTIONS_INVALID',
    )
  })

  test('error: a document that is not a Uint8Array is OPTIONS_INVALID', async () => {
    await expectAttestationError(verifyNitroAttestation([0x84] as unknown as Uint8Array, { at: 0 }), 'ATTESTATION_OPTIONS_INVALID')
  })

  test('behavior: explicit undefined options mean absent; valid options reach the document', async () => {
    await expectAttestationError(
      verifyNitroAttestation(GARBAGE, {
        at: 0,
        expectedNonce: undefined,
        maxAgeMs: 0,
        maxFutureSkewMs: 0,
        expectedPcrs: new Map([[31, new Uint8Array(48)]]),
        allowDebugMode: false,
        trustedRoot: new Uint8Array(1024),
      }),
      'ATTESTATION_CBOR_MALFORMED',
    )
  })
})
