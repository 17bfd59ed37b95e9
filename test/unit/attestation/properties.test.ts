/**
 * ATTESTATION.md §3 properties: any input ends in a result or an `AttestationError`, nothing
 * else; a mutated fixture never verifies unless the only change is unsigned framing that §2
 * accepts (tag 18, `a0` ↔ `bf ff`, an indefinite envelope array, non-shortest envelope
 * lengths), which verifies.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { AttestationError, decodeNitroAttestationUnverified, parseCertificate, verifyNitroAttestation } from '../../../core/attestation'
import { cborHead, CborArrayValue, CborRaw, encodeCbor } from '../../helpers/nitro/cborWriter'
import { splitNitroDocument } from '../../helpers/nitro/document'
import { loadNitroFixtures } from '../../helpers/nitro/fixtures'
import { outcome } from './_expect'

const fixtures = loadNitroFixtures()
const RUNS = { numRuns: 150 }

/** Verifies at the fixture's own time; throws (failing the property) on a non-AttestationError. */
function verdict(document: Uint8Array, index: number): Promise<string> {
  return outcome(() => verifyNitroAttestation(document, { at: fixtures[index]!.facts.timestampMs, allowDebugMode: true }))
}

const fixtureIndex = fc.nat(fixtures.length - 1)

describe('robustness', () => {
  test('property: random bytes end in a result or an AttestationError', async () => {
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 20_000 }),
      // Start like an envelope so the decoder goes deeper.
      fc.uint8Array({ maxLength: 600 }).map((bytes) => Uint8Array.of(0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0, ...bytes)),
      fc.array(fc.constantFrom(0x9f, 0xbf, 0xa1, 0x81, 0xff, 0x00, 0x60, 0x40, 0xd2, 0xf6, 0x1b), { maxLength: 200 }).map((bytes) => Uint8Array.from(bytes)),
    )
    await fc.assert(
      fc.asyncProperty(input, fixtureIndex, async (bytes, index) => {
        await verdict(bytes, index)
      }),
      { numRuns: 500 },
    )
  })

  test('property: flips, truncations and splices of fixtures end in a result or an AttestationError', async () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({
        kind: fc.constant('splice' as const),
        at: fc.nat(),
        remove: fc.nat(64),
        insert: fc.uint8Array({ maxLength: 64 }),
        from: fixtureIndex,
        fromAt: fc.nat(),
      }),
    )
    await fc.assert(
      fc.asyncProperty(fixtureIndex, fc.array(mutation, { minLength: 1, maxLength: 4 }), async (index, mutations) => {
        let bytes = fixtures[index]!.document
        for (const step of mutations) {
          const at = step.at % (bytes.length + 1)
          if (step.kind === 'flip' && bytes.length > 0) {
            bytes = bytes.slice()
            bytes[at % bytes.length]! ^= step.mask
          } else if (step.kind === 'truncate') {
            bytes = bytes.slice(0, at)
          } else if (step.kind === 'splice') {
            const donor = fixtures[step.from]!.document
            const chunk = step.insert.length > 0 ? step.insert : donor.subarray(step.fromAt % donor.length, (step.fromAt % donor.length) + 64)
            bytes = Uint8Array.of(...bytes.subarray(0, at), ...chunk, ...bytes.subarray(at + step.remove))
          }
        }
        await verdict(bytes, index)
      }),
      RUNS,
    )
  })

  test('property: mutated real certificates parse or fail with CERT_MALFORMED, nothing else', () => {
    const certificates = fixtures.flatMap(({ document }) => {
      const { certificate, cabundle } = decodeNitroAttestationUnverified(document)
      return [certificate, ...cabundle]
    })
    const edit = fc.record({ at: fc.nat(), byte: fc.integer({ min: 1, max: 255 }), kind: fc.constantFrom('flip', 'cut', 'insert', 'delete') })
    fc.assert(
      fc.property(fc.nat(certificates.length - 1), fc.array(edit, { minLength: 1, maxLength: 3 }), (index, edits) => {
        let bytes = certificates[index]!
        for (const { at: rawAt, byte, kind } of edits) {
          const at = rawAt % (bytes.length || 1)
          if (kind === 'flip') bytes = Uint8Array.from(bytes, (value, position) => (position === at ? value ^ byte : value))
          else if (kind === 'cut') bytes = bytes.slice(0, at)
          else if (kind === 'insert') bytes = Uint8Array.of(...bytes.subarray(0, at), byte, ...bytes.subarray(at))
          else bytes = Uint8Array.of(...bytes.subarray(0, at), ...bytes.subarray(at + 1))
        }
        try {
          parseCertificate(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(AttestationError)
          expect((error as AttestationError).attestationCode).toBe('ATTESTATION_CERT_MALFORMED')
        }
      }),
      { numRuns: 3000 },
    )
  })
})

describe('authenticity', () => {
  test('property: changing any byte of a fixture never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fixtureIndex, fc.nat(), fc.integer({ min: 1, max: 255 }), async (index, position, mask) => {
        const bytes = fixtures[index]!.document.slice()
        bytes[position % bytes.length]! ^= mask
        expect(await verdict(bytes, index)).not.toBe('success')
      }),
      { numRuns: 300 },
    )
  })

  test('property: changing any signed byte (protected header or payload) never verifies', async () => {
    await fc.assert(
      fc.asyncProperty(fixtureIndex, fc.nat(), fc.integer({ min: 1, max: 255 }), async (index, position, mask) => {
        const document = fixtures[index]!.document
        const { protectedHeader, payload } = splitNitroDocument(document)
        const signed = [...protectedHeader, ...(payload as Uint8Array)]
        signed[position % signed.length]! ^= mask
        const mutated = Uint8Array.of(
          0x84,
          ...encodeCbor(Uint8Array.from(signed.slice(0, protectedHeader.length))),
          0xa0,
          ...encodeCbor(Uint8Array.from(signed.slice(protectedHeader.length))),
          ...encodeCbor(splitNitroDocument(document).signature),
        )
        expect(await verdict(mutated, index)).not.toBe('success')
      }),
      RUNS,
    )
  })

  test.each(fixtures.map((fixture, index) => [fixture.name, index] as const))(
    'behavior: unsigned framing that §2 accepts still verifies (%s)',
    async (_name, index) => {
      const { protectedHeader, payload, signature } = splitNitroDocument(fixtures[index]!.document)
      const items = (unprotected: Uint8Array): Uint8Array[] => [
        encodeCbor(protectedHeader),
        unprotected,
        encodeCbor(payload as Uint8Array),
        encodeCbor(signature),
      ]
      /** A bstr with a non-shortest (4-byte) length. */
      const longBstr = (bytes: Uint8Array): Uint8Array => Uint8Array.of(0x5a, ...cborHead(0, 0x1_0000_0000 + bytes.length).subarray(5), ...bytes)
      const variants = [
        Uint8Array.of(0xd2, ...fixtures[index]!.document),
        encodeCbor(new CborArrayValue(items(Uint8Array.of(0xbf, 0xff)).map((item) => new CborRaw(item)))),
        encodeCbor(new CborArrayValue(items(Uint8Array.of(0xa0)).map((item) => new CborRaw(item)), true)),
        Uint8Array.of(0xd8, 0x12, 0x98, 0x04, ...longBstr(protectedHeader), 0xb8, 0x00, ...longBstr(payload as Uint8Array), ...longBstr(signature)),
      ]
      for (const variant of variants) expect(await verdict(variant, index)).toBe('success')
    },
  )
})
