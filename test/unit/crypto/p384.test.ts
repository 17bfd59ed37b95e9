import { p384 } from '@noble/curves/nist.js'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  computeP384SharedSecret,
  encodeP384PublicKeyDer,
  generateP384PrivateKey,
  importP384PrivateKey,
  isSameP384PublicKey,
  parseP384PublicKey,
} from '../../../core/crypto'
import { bytesToHex, concatBytes } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { scriptedRandom, seededRandom } from './_random'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface PublicKeyCase extends VectorCase {
  scalar: string
  expected: string
}
interface SharedSecretCase extends VectorCase {
  scalar: string
  peer_scalar: string
  expected: string
}

const vectors = loadVectors(protocol)
const DER_PREFIX = '3076301006072a8648ce3d020106052b8104002203620004'
const [vectorA] = casesOf<PublicKeyCase>(vectors, 'p384_public_key')
const pointA = hex(`04${vectorA!.expected}`)

describe('P-384 keys (PROTOCOL §0, §5.1)', () => {
  test.each(casesOf<PublicKeyCase>(vectors, 'p384_public_key'))('vector: $name', async ({ scalar, expected }) => {
    const key = await importP384PrivateKey(hex(scalar))
    expect(bytesToHex(key.publicKey.der)).toBe(DER_PREFIX + expected)
    expect(bytesToHex(key.publicKey.sec1)).toBe(`04${expected}`)
  })

  test.each(casesOf<SharedSecretCase>(vectors, 'p384_shared_secret'))('vector: $name, both ways', async (vector) => {
    const own = await importP384PrivateKey(hex(vector.scalar))
    const peer = await importP384PrivateKey(hex(vector.peer_scalar))
    expect(bytesToHex(await computeP384SharedSecret(own, peer.publicKey))).toBe(vector.expected)
    expect(bytesToHex(await computeP384SharedSecret(peer, own.publicKey))).toBe(vector.expected)
  })

  test('behavior: DER SPKI and SEC1 parse to the same key; equality is by point', () => {
    const fromSec1 = parseP384PublicKey(pointA)!
    const fromDer = parseP384PublicKey(encodeP384PublicKeyDer(pointA))!
    expect(fromDer).toEqual(fromSec1)
    expect(fromDer.der.length).toBe(120)
    expect(isSameP384PublicKey(fromDer.der, pointA)).toBe(true)
    expect(isSameP384PublicKey(pointA, pointA)).toBe(true)
  })

  test('error: wrong lengths, prefixes and off-curve points do not parse', () => {
    const der = encodeP384PublicKeyDer(pointA)
    const offCurve = pointA.slice()
    offCurve[96]! ^= 1
    const wrongOid = der.slice()
    wrongOid[22]! ^= 1 // the curve OID's last byte (secp384r1 → something else)
    const compressed = concatBytes(Uint8Array.of(0x02 + (pointA[96]! & 1)), pointA.subarray(1, 49))
    for (const bad of [
      der.subarray(0, 119),
      concatBytes(der, Uint8Array.of(0)),
      wrongOid,
      offCurve,
      concatBytes(der.subarray(0, 23), offCurve),
      compressed,
      concatBytes(Uint8Array.of(0x05), pointA.subarray(1)),
      new Uint8Array(97),
      new Uint8Array(0),
    ]) {
      expect(parseP384PublicKey(bad)).toBeUndefined()
    }
  })

  test('behavior: the same bytes get the same answer from the cache; changed in place, an array is parsed again', () => {
    const held = encodeP384PublicKeyDer(pointA)
    const first = parseP384PublicKey(held)
    expect(parseP384PublicKey(held.slice())).toBe(first)
    held[119]! ^= 1 // off the curve now
    expect(parseP384PublicKey(held)).toBeUndefined()
    expect(parseP384PublicKey(held)).toBeUndefined()
    held[119]! ^= 1
    expect(parseP384PublicKey(held)).toBe(first)
  })

  test('behavior: a key that does not parse equals nothing, not even itself', () => {
    const garbage = new Uint8Array(120)
    expect(isSameP384PublicKey(garbage, garbage)).toBe(false)
    expect(isSameP384PublicKey(pointA, garbage)).toBe(false)
  })

  test('behavior: generated keys take their scalar from the injected Random, rejecting 0 and ≥ n', async () => {
    const scalar = hex('11'.repeat(48))
    const key = await generateP384PrivateKey(scriptedRandom(new Uint8Array(48), new Uint8Array(48).fill(0xff), scalar))
    expect(key.publicKey.sec1).toEqual(pointA)
  })

  test('error: a Random that only yields invalid scalars is detected', async () => {
    const zeros = { bytes: (length: number) => new Uint8Array(length) }
    await expect(generateP384PrivateKey(zeros)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[Error: random: no valid secret scalar in 64 draws]`,
    )
  })

  test('error: encoder and importer preconditions name the field', async () => {
    expect(() => encodeP384PublicKeyDer(pointA.subarray(1))).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: point: expected 97 bytes, got 96]`,
    )
    await expect(importP384PrivateKey(new Uint8Array(48))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: scalar: expected 1 ≤ d < n (P-384)]`,
    )
  })

  test('property: parse ∘ encode is the identity on points, and ECDH is symmetric', async () => {
    const random = seededRandom('p384-property')
    await fc.assert(
      fc.asyncProperty(fc.constant(null), async () => {
        const own = await generateP384PrivateKey(random)
        const peer = await generateP384PrivateKey(random)
        expect(parseP384PublicKey(own.publicKey.der)).toEqual(own.publicKey)
        expect(own.publicKey.sec1).toEqual(p384.Point.fromBytes(own.publicKey.sec1).toBytes(false))
        expect(await computeP384SharedSecret(own, peer.publicKey)).toEqual(await computeP384SharedSecret(peer, own.publicKey))
      }),
      { numRuns: 10 },
    )
  })
})
