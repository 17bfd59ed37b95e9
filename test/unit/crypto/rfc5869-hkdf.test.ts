import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { hkdfSha256 } from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import rfc5869 from '../../vectors/rfc5869-hkdf.json'
import { hex, loadVectors, type VectorCase } from './_vectors'

interface HkdfCase extends VectorCase {
  ikm: string
  salt: string
  info: string
  length: number
  okm: string
}

const vectors = loadVectors<HkdfCase>(rfc5869)

describe('hkdfSha256 (RFC 5869)', () => {
  test.each(vectors.cases)('vector: $name', async ({ ikm, salt, info, length, okm }) => {
    const out = await hkdfSha256({ ikm: hex(ikm), salt: hex(salt), info: hex(info), length })
    expect(bytesToHex(out)).toBe(okm)
  })

  test('property: WebCrypto agrees with noble for any input', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.integer({ min: 1, max: 300 }),
        async (ikm, salt, info, length) => {
          const ours = await hkdfSha256({ ikm, salt, info, length })
          expect(bytesToHex(ours)).toBe(bytesToHex(hkdf(sha256, ikm, salt, info, length)))
        },
      ),
      { numRuns: 60 },
    )
  })

  test('error: a length outside 1..8160 is a caller bug', async () => {
    const ikm = new Uint8Array(32)
    await expect(hkdfSha256({ ikm, salt: ikm, info: ikm, length: 0 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: length: expected 1..8160, got 0]`,
    )
    await expect(hkdfSha256({ ikm, salt: ikm, info: ikm, length: 8161 })).rejects.toThrow(RangeError)
  })
})
