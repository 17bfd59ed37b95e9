/**
 * ATTESTATION.md §6.3: every tampering case of the table, applied to each of the nine real
 * documents. The test-side writer first proves that it rebuilds each document exactly, so
 * every case changes exactly what it says. The steps run in order, so an edit that also
 * breaks the signature reports the earlier step's code.
 */
import { p384 } from '@noble/curves/nist.js'
import { describe, expect, test } from 'vitest'
import { verifyNitroAttestation, type AttestationErrorCode, type VerifyNitroAttestationOptions } from '../../../core/attestation'
import { bytesToHex, compareBytes } from '../../../core/encoding'
import { CborArrayValue, CborMapValue, encodeCbor, type CborValue } from '../../helpers/nitro/cborWriter'
import { buildNitroDocument, payloadModel, raw, splitNitroDocument, type NitroDocumentParts } from '../../helpers/nitro/document'
import { loadNitroFixtures, type NitroFixture } from '../../helpers/nitro/fixtures'
import { buildSyntheticChain } from '../../helpers/nitro/syntheticChain'
import { outcome } from './_expect'

const fixtures = loadNitroFixtures()

interface Case {
  readonly name: string
  readonly expected: AttestationErrorCode | 'success' | ((fixture: NitroFixture) => AttestationErrorCode | 'success')
  readonly document: (fixture: NitroFixture) => Uint8Array
  readonly options?: (fixture: NitroFixture) => Partial<VerifyNitroAttestationOptions>
}

function flipBit(bytes: Uint8Array, index: number, mask = 1): Uint8Array {
  const copy = bytes.slice()
  copy[index < 0 ? copy.length + index : index]! ^= mask
  return copy
}

function parts(fixture: NitroFixture): NitroDocumentParts & { model: CborMapValue } {
  const split = splitNitroDocument(fixture.document)
  return { ...split, model: payloadModel(split.payload as Uint8Array) }
}

/** The document with its payload map replaced (the signature is kept). */
function withPayload(fixture: NitroFixture, edit: (model: CborMapValue) => CborMapValue): Uint8Array {
  const { model, ...rest } = parts(fixture)
  return buildNitroDocument({ ...rest, payload: edit(model) })
}

function withEnvelope(fixture: NitroFixture, edit: Partial<NitroDocumentParts>): Uint8Array {
  const { model: _model, ...rest } = parts(fixture)
  return buildNitroDocument({ ...rest, ...edit })
}

function cabundle(model: CborMapValue): Uint8Array[] {
  return (model.get('cabundle') as CborArrayValue).items as Uint8Array[]
}

function withCabundle(fixture: NitroFixture, edit: (entries: Uint8Array[]) => Uint8Array[]): Uint8Array {
  return withPayload(fixture, (model) => model.with('cabundle', new CborArrayValue(edit([...cabundle(model)]))))
}

function withPcrs(fixture: NitroFixture, edit: (pcrs: CborMapValue) => CborMapValue): Uint8Array {
  return withPayload(fixture, (model) => model.with('pcrs', edit(model.get('pcrs') as CborMapValue)))
}

function pcr(fixture: NitroFixture, index: number): Uint8Array {
  return (parts(fixture).model.get('pcrs') as CborMapValue).entries.find(([key]) => key === index)![1] as Uint8Array
}

function documentNonce(fixture: NitroFixture): Uint8Array | null {
  return parts(fixture).model.get('nonce') as Uint8Array | null
}

/** RFC 8949 §4.2.1 order: keys sorted by their encoded bytes. */
function deterministicOrder(model: CborMapValue): CborMapValue {
  const entries = [...model.entries].sort(([left], [right]) => compareBytes(encodeCbor(left), encodeCbor(right)))
  return new CborMapValue(entries)
}

const DER_SIGNATURE = (fixture: NitroFixture): Uint8Array =>
  p384.Signature.fromBytes(parts(fixture).signature, 'compact').toBytes('der')

const CASES: readonly Case[] = [
  { name: 'd2 prefix', expected: 'success', document: (f) => Uint8Array.of(0xd2, ...f.document) },
  { name: 'd1 prefix', expected: 'ATTESTATION_COSE_MALFORMED', document: (f) => Uint8Array.of(0xd1, ...f.document) },
  { name: 'a trailing byte', expected: 'ATTESTATION_CBOR_MALFORMED', document: (f) => Uint8Array.of(...f.document, 0x00) },
  { name: 'the last byte cut', expected: 'ATTESTATION_CBOR_MALFORMED', document: (f) => f.document.slice(0, -1) },
  {
    name: 'a bit flipped in the signature',
    expected: 'ATTESTATION_SIGNATURE_INVALID',
    document: (f) => withEnvelope(f, { signature: flipBit(parts(f).signature, 10, 0x10) }),
  },
  {
    name: 'a bit flipped in a PCR',
    expected: 'ATTESTATION_SIGNATURE_INVALID',
    document: (f) => withPcrs(f, (pcrs) => new CborMapValue(pcrs.entries.map(([k, v]) => [k, k === 4 ? flipBit(v as Uint8Array, 0) : v]))),
  },
  {
    name: 'the low bit of a module_id character flipped',
    expected: 'ATTESTATION_SIGNATURE_INVALID',
    document: (f) =>
      withPayload(f, (model) => {
        const id = model.get('module_id') as string
        return model.with('module_id', id.slice(0, 2) + String.fromCharCode(id.charCodeAt(2) ^ 1) + id.slice(3))
      }),
  },
  {
    name: 'payload re-encoded in RFC 8949 key order',
    expected: 'ATTESTATION_SIGNATURE_INVALID',
    document: (f) => withPayload(f, deterministicOrder),
  },
  {
    name: 'payload re-encoded as an indefinite map',
    expected: 'ATTESTATION_SIGNATURE_INVALID',
    document: (f) => withPayload(f, (model) => model.asIndefinite()),
  },
  {
    name: 'a signature of 95 B',
    expected: 'ATTESTATION_COSE_MALFORMED',
    document: (f) => withEnvelope(f, { signature: parts(f).signature.slice(0, 95) }),
  },
  {
    name: 'a signature of 97 B',
    expected: 'ATTESTATION_COSE_MALFORMED',
    document: (f) => withEnvelope(f, { signature: Uint8Array.of(...parts(f).signature, 0) }),
  },
  { name: 'a DER signature', expected: 'ATTESTATION_COSE_MALFORMED', document: (f) => withEnvelope(f, { signature: DER_SIGNATURE(f) }) },
  {
    name: 'protected a1 01 26 (alg −7)',
    expected: 'ATTESTATION_COSE_UNSUPPORTED_HEADER',
    document: (f) => withEnvelope(f, { protectedHeader: Uint8Array.of(0xa1, 0x01, 0x26) }),
  },
  {
    name: "protected {1: −35, 4: h'00'}",
    expected: 'ATTESTATION_COSE_UNSUPPORTED_HEADER',
    document: (f) => withEnvelope(f, { protectedHeader: Uint8Array.of(0xa2, 0x01, 0x38, 0x22, 0x04, 0x41, 0x00) }),
  },
  {
    name: "unprotected {4: h'00'}",
    expected: 'ATTESTATION_COSE_MALFORMED',
    document: (f) => withEnvelope(f, { unprotected: new CborMapValue([[4, Uint8Array.of(0)]]) }),
  },
  { name: 'unprotected bf ff', expected: 'success', document: (f) => withEnvelope(f, { unprotected: raw([0xbf, 0xff]) }) },
  {
    name: 'map count +1 and "nonce": null appended',
    expected: 'ATTESTATION_CBOR_DUPLICATE_KEY',
    document: (f) => withPayload(f, (model) => model.append('nonce', null)),
  },
  { name: 'cabundle reversed', expected: 'ATTESTATION_ROOT_UNTRUSTED', document: (f) => withCabundle(f, (c) => c.reverse()) },
  { name: 'root dropped', expected: 'ATTESTATION_ROOT_UNTRUSTED', document: (f) => withCabundle(f, (c) => c.slice(1)) },
  {
    name: '[0] replaced by a self-made P-384 root',
    expected: 'ATTESTATION_ROOT_UNTRUSTED',
    document: (f) => withCabundle(f, (c) => [buildSyntheticChain({ nowMs: f.facts.timestampMs }).root, ...c.slice(1)]),
  },
  {
    name: 'a bit flipped in [0]',
    expected: 'ATTESTATION_ROOT_UNTRUSTED',
    document: (f) => withCabundle(f, (c) => [flipBit(c[0]!, 200), ...c.slice(1)]),
  },
  { name: 'cabundle[1] dropped', expected: 'ATTESTATION_CHAIN_BROKEN', document: (f) => withCabundle(f, (c) => [c[0]!, ...c.slice(2)]) },
  {
    name: '[1] and [2] swapped',
    expected: 'ATTESTATION_CHAIN_BROKEN',
    document: (f) => withCabundle(f, (c) => [c[0]!, c[2]!, c[1]!, ...c.slice(3)]),
  },
  {
    name: 'the last byte of the leaf flipped',
    expected: 'ATTESTATION_CHAIN_BROKEN',
    document: (f) => withPayload(f, (model) => model.with('certificate', flipBit(model.get('certificate') as Uint8Array, -1))),
  },
  {
    name: 'the last byte of [1] flipped',
    expected: 'ATTESTATION_CHAIN_BROKEN',
    document: (f) => withCabundle(f, (c) => [c[0]!, flipBit(c[1]!, -1), ...c.slice(2)]),
  },
  { name: 'cabundle []', expected: 'ATTESTATION_PAYLOAD_MALFORMED', document: (f) => withCabundle(f, () => []) },
  { name: 'cabundle null', expected: 'ATTESTATION_PAYLOAD_MALFORMED', document: (f) => withPayload(f, (m) => m.with('cabundle', null)) },
  { name: 'digest "SHA256"', expected: 'ATTESTATION_PAYLOAD_MALFORMED', document: (f) => withPayload(f, (m) => m.with('digest', 'SHA256')) },
  {
    name: 'a 47 B PCR',
    expected: 'ATTESTATION_PAYLOAD_MALFORMED',
    document: (f) => withPcrs(f, (pcrs) => new CborMapValue(pcrs.entries.map(([k, v]) => [k, k === 0 ? (v as Uint8Array).slice(1) : v]))),
  },
  {
    name: 'PCR index 32',
    expected: 'ATTESTATION_PAYLOAD_MALFORMED',
    document: (f) => withPcrs(f, (pcrs) => pcrs.append(32, new Uint8Array(48))),
  },
  {
    name: 'user_data of 1025 B',
    expected: 'ATTESTATION_PAYLOAD_MALFORMED',
    document: (f) => withPayload(f, (m) => m.with('user_data', new Uint8Array(1025).fill(1))),
  },
  { name: 'timestamp 0', expected: 'ATTESTATION_PAYLOAD_MALFORMED', document: (f) => withPayload(f, (m) => m.with('timestamp', 0)) },
  {
    name: 'timestamp in seconds',
    expected: 'ATTESTATION_PAYLOAD_MALFORMED',
    document: (f) => withPayload(f, (m) => m.with('timestamp', Math.floor(f.facts.timestampMs / 1000))),
  },
  { name: 'module_id missing', expected: 'ATTESTATION_PAYLOAD_MALFORMED', document: (f) => withPayload(f, (m) => m.without('module_id')) },
  {
    name: 'maxAgeMs 60 000 at ts + 60 000',
    expected: 'success',
    document: (f) => f.document,
    options: (f) => ({ maxAgeMs: 60_000, at: f.facts.timestampMs + 60_000 }),
  },
  {
    name: 'maxAgeMs 60 000 at ts + 60 001',
    expected: 'ATTESTATION_TOO_OLD',
    document: (f) => f.document,
    options: (f) => ({ maxAgeMs: 60_000, at: f.facts.timestampMs + 60_001 }),
  },
  {
    name: 'maxFutureSkewMs 0 at ts − 1',
    expected: 'ATTESTATION_TIMESTAMP_IN_FUTURE',
    document: (f) => f.document,
    options: (f) => ({ maxFutureSkewMs: 0, at: f.facts.timestampMs - 1 }),
  },
  {
    name: 'expectedNonce equal (or the document nonce null)',
    expected: (f) => (documentNonce(f) === null ? 'ATTESTATION_NONCE_MISMATCH' : 'success'),
    document: (f) => f.document,
    options: (f) => ({ expectedNonce: documentNonce(f) ?? new Uint8Array(16) }),
  },
  {
    name: 'expectedNonce one bit off',
    expected: 'ATTESTATION_NONCE_MISMATCH',
    document: (f) => f.document,
    options: (f) => ({ expectedNonce: flipBit(documentNonce(f) ?? new Uint8Array(16), 0) }),
  },
  {
    name: 'expectedPcrs {0: PCR0}',
    expected: 'success',
    document: (f) => f.document,
    options: (f) => ({ expectedPcrs: new Map([[0, pcr(f, 0)]]) }),
  },
  {
    name: 'expectedPcrs one bit off',
    expected: 'ATTESTATION_PCR_MISMATCH',
    document: (f) => f.document,
    options: (f) => ({ expectedPcrs: new Map([[0, flipBit(pcr(f, 0), 47)]]) }),
  },
  {
    name: '16 385 B of input',
    expected: 'ATTESTATION_INPUT_TOO_LARGE',
    document: (f) => {
      const padded = new Uint8Array(16_385)
      padded.set(f.document)
      return padded
    },
  },
]

describe('test-side CBOR writer', () => {
  test.each(fixtures)('vector: re-encoding the payload of $name in its order reproduces it', ({ document }) => {
    const split = splitNitroDocument(document)
    const payload = split.payload as Uint8Array
    expect(bytesToHex(encodeCbor(payloadModel(payload)))).toBe(bytesToHex(payload))
    expect(bytesToHex(buildNitroDocument({ ...split, payload: payloadModel(payload) }))).toBe(bytesToHex(document))
  })

  test('behavior: RFC 8949 order really differs from the AWS order', () => {
    const model = payloadModel(splitNitroDocument(fixtures[0]!.document).payload as Uint8Array)
    const keys = (map: CborMapValue): CborValue[] => map.entries.map(([key]) => key)
    expect(keys(deterministicOrder(model))).not.toEqual(keys(model))
  })
})

describe.each(CASES)('$name', (tamperCase) => {
  const prefix = typeof tamperCase.expected === 'string' && tamperCase.expected !== 'success' ? 'error' : 'behavior'
  test.each(fixtures)(`${prefix}: $name`, async (fixture) => {
    const expected = typeof tamperCase.expected === 'function' ? tamperCase.expected(fixture) : tamperCase.expected
    const document = tamperCase.document(fixture)
    const options = { at: fixture.facts.timestampMs, allowDebugMode: true, ...tamperCase.options?.(fixture) }
    expect(await outcome(() => verifyNitroAttestation(document, options))).toBe(expected)
  })
})
