/**
 * The node's AES-256-GCM on OpenSSL (bundle/nativeAesGcm.ts, installed through core's
 * `useNativeAesGcm`) must be WebCrypto's, byte for byte: the same ciphertext and tag, the same
 * plaintext back, `undefined` for every tampered or short input. Records, envelopes and sealed
 * secrets made by one open with the other, and the PROTOCOL §5.7 vectors hold with it.
 */
import fc from 'fast-check'
import { afterEach, describe, expect, test } from 'vitest'
import { createNodeAesGcm } from '../../../bundle/nativeAesGcm'
import {
  decryptEnvelope,
  decryptRecord,
  deriveDataKey,
  encryptEnvelope,
  encryptRecord,
  importP384PrivateKey,
  importRecordKey,
  useNativeAesGcm,
} from '../../../core/crypto'
import { aesGcmOpen, aesGcmSeal, importAesGcmKey } from '../../../core/crypto/_aesGcm'
import { bytesToHex, utf8ToBytes } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { casesOf, hex, loadVectors, type EnvelopeCase, type RecordCase } from './_vectors'

const native = createNodeAesGcm()
const vectors = loadVectors(protocol)

afterEach(() => useNativeAesGcm(undefined))

/** A key imported both ways: WebCrypto's, then the native cipher's. */
async function bothKeys(raw: Uint8Array) {
  useNativeAesGcm(undefined)
  const webCrypto = await importAesGcmKey(raw, 'K')
  useNativeAesGcm(native)
  const openSsl = await importAesGcmKey(raw, 'K')
  useNativeAesGcm(undefined)
  return { webCrypto, openSsl }
}

const key = fc.uint8Array({ minLength: 32, maxLength: 32 })
const nonce = fc.uint8Array({ minLength: 12, maxLength: 12 })
const plaintext = fc.uint8Array({ maxLength: 600 })

describe('native AES-256-GCM (PROTOCOL §5.1) against WebCrypto', () => {
  test('property: the same ciphertext and tag, and each opens the other', async () => {
    await fc.assert(
      fc.asyncProperty(key, nonce, plaintext, async (raw, iv, message) => {
        const { webCrypto, openSsl } = await bothKeys(raw)
        const sealed = await aesGcmSeal(openSsl, iv, message)
        expect(bytesToHex(sealed)).toBe(bytesToHex(await aesGcmSeal(webCrypto, iv, message)))
        expect(sealed.length).toBe(message.length + 16)
        expect(await aesGcmOpen(openSsl, iv, sealed)).toEqual(message)
        expect(await aesGcmOpen(webCrypto, iv, sealed)).toEqual(message)
      }),
      { numRuns: 200 },
    )
  })

  test('property: a flipped bit, a cut, another nonce or another key opens to undefined on both', async () => {
    await fc.assert(
      fc.asyncProperty(key, nonce, plaintext, fc.nat(), fc.nat(), async (raw, iv, message, bitSeed, cutSeed) => {
        const { webCrypto, openSsl } = await bothKeys(raw)
        const sealed = await aesGcmSeal(webCrypto, iv, message)
        const flipped = sealed.slice()
        const bit = bitSeed % (sealed.length * 8)
        flipped[bit >> 3]! ^= 1 << (bit & 7)
        const otherNonce = iv.slice()
        otherNonce[0]! ^= 1
        const otherKey = raw.slice()
        otherKey[31]! ^= 0x80
        const { webCrypto: otherWebCrypto, openSsl: otherOpenSsl } = await bothKeys(otherKey)
        const cut = sealed.subarray(0, cutSeed % sealed.length)
        for (const [opener, webOpener] of [[openSsl, webCrypto], [otherOpenSsl, otherWebCrypto]] as const) {
          const wrongKey = opener === otherOpenSsl
          for (const [input, iv2] of wrongKey ? [[sealed, iv] as const] : [[flipped, iv] as const, [cut, iv] as const, [sealed, otherNonce] as const]) {
            expect(await aesGcmOpen(opener, iv2, input)).toBeUndefined()
            expect(await aesGcmOpen(webOpener, iv2, input)).toBeUndefined()
          }
        }
      }),
      { numRuns: 100 },
    )
  })

  test('error: inputs shorter than the tag, the empty one included, open to undefined', async () => {
    const { webCrypto, openSsl } = await bothKeys(new Uint8Array(32).fill(7))
    for (const length of [0, 1, 15]) {
      expect(await aesGcmOpen(openSsl, new Uint8Array(12), new Uint8Array(length))).toBeUndefined()
      expect(await aesGcmOpen(webCrypto, new Uint8Array(12), new Uint8Array(length))).toBeUndefined()
    }
  })

  test('behavior: a key keeps its bytes (a copy) and its implementation after a switch', async () => {
    const raw = new Uint8Array(32).fill(3)
    const { webCrypto, openSsl } = await bothKeys(raw)
    const expected = await aesGcmSeal(webCrypto, new Uint8Array(12), utf8ToBytes('kept'))
    raw.fill(4)
    useNativeAesGcm(native)
    expect(await aesGcmSeal(webCrypto, new Uint8Array(12), utf8ToBytes('kept'))).toEqual(expected)
    useNativeAesGcm(undefined)
    expect(await aesGcmSeal(openSsl, new Uint8Array(12), utf8ToBytes('kept'))).toEqual(expected)
  })

  test('vector: the §5.7 record vectors, and records cross between the two implementations', async () => {
    const cases = casesOf<RecordCase>(vectors, 'record')
    expect(cases.length).toBeGreaterThan(0)
    for (const vector of cases) {
      const dataKey = await deriveDataKey(hex(vector.master_secret), vector.app_id)
      useNativeAesGcm(native)
      const nativeKey = await importRecordKey(dataKey)
      useNativeAesGcm(undefined)
      const webKey = await importRecordKey(dataKey)
      const stored = await encryptRecord(nativeKey, utf8ToBytes(vector.plaintext), hex(vector.nonce))
      expect(bytesToHex(stored)).toBe(vector.expected)
      expect(await decryptRecord(webKey, stored)).toEqual(utf8ToBytes(vector.plaintext))
      expect(await decryptRecord(nativeKey, await encryptRecord(webKey, utf8ToBytes(vector.plaintext), hex(vector.nonce)))).toEqual(utf8ToBytes(vector.plaintext))
    }
  })

  test('vector: the §5.7 envelope ciphertexts with the native cipher installed', async () => {
    const cases = casesOf<EnvelopeCase>(vectors, 'envelope_ciphertext')
    expect(cases.length).toBeGreaterThan(0)
    useNativeAesGcm(native)
    for (const vector of cases) {
      const a = await importP384PrivateKey(hex(vector.scalar))
      const b = await importP384PrivateKey(hex(vector.peer_scalar))
      const iv = hex(vector.nonce)
      const ciphertext = await encryptEnvelope({ privateKey: a, peerPublicKey: b.publicKey, nonce: iv, plaintext: vector.plaintext!, info: vector.info })
      expect(bytesToHex(ciphertext)).toBe(vector.expected)
      expect(await decryptEnvelope({ privateKey: b, peerPublicKey: a.publicKey, nonce: iv, ciphertext, info: vector.info })).toBe(vector.plaintext)
    }
  })
})
