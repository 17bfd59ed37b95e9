import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  decryptEnvelope,
  deriveEnvelopeKey,
  encryptEnvelope,
  ENVELOPE_INFO_CAPSULE_API,
  ENVELOPE_INFO_CURRENT,
  ENVELOPE_INFO_ENCLAVER_V1,
  generateP384PrivateKey,
  importP384PrivateKey,
} from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from './_errors'
import { seededRandom } from './_random'
import { sealRawAesGcm } from './_rawAesGcm'
import { casesOf, hex, loadVectors, type EnvelopeCase } from './_vectors'

const vectors = loadVectors(protocol)
const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }

async function pair(vector: EnvelopeCase) {
  return {
    a: await importP384PrivateKey(hex(vector.scalar)),
    b: await importP384PrivateKey(hex(vector.peer_scalar)),
    nonce: hex(vector.nonce),
  }
}

describe('envelope cipher v1 (PROTOCOL §10.2)', () => {
  test.each(casesOf<EnvelopeCase>(vectors, 'envelope_key'))('vector: $name, both ways', async (vector) => {
    const { a, b, nonce } = await pair(vector)
    expect(bytesToHex(await deriveEnvelopeKey({ privateKey: a, peerPublicKey: b.publicKey, nonce, info: vector.info }))).toBe(
      vector.expected,
    )
    expect(bytesToHex(await deriveEnvelopeKey({ privateKey: b, peerPublicKey: a.publicKey, nonce, info: vector.info }))).toBe(
      vector.expected,
    )
  })

  test('vector: without an info, K is the capsule-ecdh-aes256gcm-v1 vector (the default since 2026-12)', async () => {
    const vector = casesOf<EnvelopeCase>(vectors, 'envelope_key').find((entry) => entry.info === ENVELOPE_INFO_CURRENT)!
    const { a, b, nonce } = await pair(vector)
    expect(bytesToHex(await deriveEnvelopeKey({ privateKey: a, peerPublicKey: b.publicKey, nonce }))).toBe(vector.expected)
    expect(bytesToHex(await deriveEnvelopeKey({ privateKey: b, peerPublicKey: a.publicKey, nonce }))).toBe(vector.expected)
  })

  test.each(casesOf<EnvelopeCase>(vectors, 'envelope_ciphertext'))('vector: $name, both ways', async (vector) => {
    const { a, b, nonce } = await pair(vector)
    const plaintext = vector.plaintext!
    const ciphertext = await encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce, plaintext, info: vector.info })
    expect(bytesToHex(ciphertext)).toBe(vector.expected)
    const back = await encryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, plaintext, info: vector.info })
    expect(back).toEqual(ciphertext)
    expect(await decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext, info: vector.info })).toBe(plaintext)
    expect(await decryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce, ciphertext, info: vector.info })).toBe(plaintext)
  })

  test('behavior: the labels are the runtime generations of RUNTIME.md §1', () => {
    expect(ENVELOPE_INFO_CURRENT).toBe('capsule-ecdh-aes256gcm-v1')
    expect(ENVELOPE_INFO_ENCLAVER_V1).toBe('enclaver-ecdh-aes256gcm-v1')
    expect(ENVELOPE_INFO_CAPSULE_API).toBe('capsule-api-ecdh-aes256gcm-v1')
  })

  test('vector: the default is the current label; it round-trips and the older labels fail', async () => {
    const vector = casesOf<EnvelopeCase>(vectors, 'envelope_ciphertext').find((entry) => entry.info === ENVELOPE_INFO_CURRENT)!
    const { a, b, nonce } = await pair(vector)
    const plaintext = vector.plaintext!
    const ciphertext = await encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce, plaintext })
    expect(bytesToHex(ciphertext)).toBe(vector.expected)
    expect(await decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext })).toBe(plaintext)
    expect(await decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext, info: ENVELOPE_INFO_CURRENT })).toBe(plaintext)
    for (const info of [ENVELOPE_INFO_ENCLAVER_V1, ENVELOPE_INFO_CAPSULE_API]) {
      expect(await rejectionBody(decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext, info }))).toEqual(FAILED)
    }
  })

  test('behavior: an enclaver-labelled envelope does not open under the default', async () => {
    const vector = casesOf<EnvelopeCase>(vectors, 'envelope_ciphertext').find((entry) => entry.info === ENVELOPE_INFO_ENCLAVER_V1)!
    const { a, b, nonce } = await pair(vector)
    const ciphertext = hex(vector.expected)
    expect(await rejectionBody(decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext }))).toEqual(FAILED)
    const opened = await decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext, info: ENVELOPE_INFO_ENCLAVER_V1 })
    expect(opened).toBe(vector.plaintext)
  })

  test('property: round trips both directions for any text and nonce', async () => {
    const random = seededRandom('envelope-property')
    const a = await generateP384PrivateKey(random)
    const b = await generateP384PrivateKey(random)
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.boolean(),
        async (plaintext, nonce, aToB) => {
          const [from, to] = aToB ? [a, b] : [b, a]
          const ciphertext = await encryptEnvelope({ privateKey: from, peerPublicKey: to.publicKey, nonce, plaintext })
          expect(ciphertext.length).toBe(new TextEncoder().encode(plaintext).length + 16)
          expect(await decryptEnvelope({ privateKey: to, peerPublicKey: from.publicKey, nonce, ciphertext })).toBe(plaintext)
        },
      ),
      { numRuns: 40 },
    )
  })

  test('property: a tampered ciphertext, nonce or sender is decryption_failed', async () => {
    const random = seededRandom('envelope-tamper')
    const a = await generateP384PrivateKey(random)
    const b = await generateP384PrivateKey(random)
    const stranger = await generateP384PrivateKey(random)
    const nonce = random.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce, plaintext: '{"k":"v"}' })
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: (ciphertext.length + 12) * 8 - 1 }), async (bit) => {
        const tamperedCiphertext = ciphertext.slice()
        const tamperedNonce = nonce.slice()
        const target = bit < ciphertext.length * 8 ? tamperedCiphertext : tamperedNonce
        const index = bit < ciphertext.length * 8 ? bit : bit - ciphertext.length * 8
        target[index >> 3]! ^= 1 << (index & 7)
        const work = decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce: tamperedNonce, ciphertext: tamperedCiphertext })
        expect(await rejectionBody(work)).toEqual(FAILED)
      }),
      { numRuns: 40 },
    )
    const wrongSender = decryptEnvelope({ privateKey: b, peerPublicKey: stranger.publicKey, nonce, ciphertext })
    expect(await rejectionBody(wrongSender)).toEqual(FAILED)
  })

  test('error: a plaintext that is not UTF-8 is decryption_failed', async () => {
    const random = seededRandom('envelope-utf8')
    const a = await generateP384PrivateKey(random)
    const b = await generateP384PrivateKey(random)
    const nonce = random.bytes(12)
    const key = await deriveEnvelopeKey({ privateKey: a, peerPublicKey: b.publicKey, nonce })
    for (const bytes of [Uint8Array.of(0xff), Uint8Array.of(0x61, 0xc3), Uint8Array.of(0xed, 0xa0, 0x80)]) {
      const ciphertext = await sealRawAesGcm(key, nonce, bytes)
      expect(await rejectionBody(decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext }))).toEqual(FAILED)
    }
  })

  test('error: a nonce that is not 12 bytes or a ciphertext shorter than the tag is decryption_failed', async () => {
    const random = seededRandom('envelope-lengths')
    const a = await generateP384PrivateKey(random)
    const b = await generateP384PrivateKey(random)
    const ciphertext = await encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce: new Uint8Array(12), plaintext: '' })
    const cases = [
      { nonce: new Uint8Array(32), ciphertext },
      { nonce: new Uint8Array(11), ciphertext },
      { nonce: new Uint8Array(12), ciphertext: ciphertext.subarray(0, 15) },
    ]
    for (const { nonce, ciphertext: sealed } of cases) {
      expect(await rejectionBody(decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce, ciphertext: sealed }))).toEqual(FAILED)
    }
    await expect(
      encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce: new Uint8Array(32), plaintext: '' }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(`[RangeError: nonce: expected 12 bytes, got 32]`)
  })
})
