/** The on-curve check of step 6a, against noble's point decoder. */
import { p384 } from '@noble/curves/nist.js'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { isP384UncompressedPoint } from '../../../core/attestation/_p384'

function nobleAccepts(point: Uint8Array): boolean {
  try {
    p384.Point.fromBytes(point).assertValidity()
    return point.length === 97
  } catch {
    return false
  }
}

describe('isP384UncompressedPoint', () => {
  test('vector: the generator and the AWS root key are on the curve', () => {
    expect(isP384UncompressedPoint(p384.Point.BASE.toBytes(false))).toBe(true)
    expect(isP384UncompressedPoint(p384.getPublicKey(p384.utils.randomSecretKey(new Uint8Array(72).fill(9)), false))).toBe(true)
  })

  test('error: compressed, truncated, or with a coordinate ≥ p', () => {
    const point = p384.Point.BASE.toBytes(false)
    expect(isP384UncompressedPoint(p384.Point.BASE.toBytes(true))).toBe(false)
    expect(isP384UncompressedPoint(point.subarray(0, 96))).toBe(false)
    expect(isP384UncompressedPoint(Uint8Array.of(0x04, ...new Uint8Array(96).fill(0xff)))).toBe(false)
    expect(isP384UncompressedPoint(Uint8Array.of(0x05, ...point.subarray(1)))).toBe(false)
  })

  test('property: agrees with noble on random keys and on their one-bit mutations', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 72, maxLength: 72 }), fc.nat(96 * 8 - 1), fc.boolean(), (seed, bit, mutate) => {
        const point = p384.getPublicKey(p384.utils.randomSecretKey(seed), false)
        if (mutate) point[1 + (bit >> 3)]! ^= 1 << (bit & 7)
        expect(isP384UncompressedPoint(point)).toBe(nobleAccepts(point))
      }),
      { numRuns: 200 },
    )
  })
})
