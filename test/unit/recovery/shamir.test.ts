import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { combine, split } from 'shamir-secret-sharing'
import { combineShares, splitSecret } from '../../../core/recovery'
import { seededRandom } from '../crypto/_random'

function bytesRandom(seed: Uint8Array) {
  // A Random fed by fast-check bytes stretched with a counter, so each case is reproducible.
  let counter = 0
  return {
    bytes(length: number) {
      const out = new Uint8Array(length)
      for (let i = 0; i < length; i++) out[i] = (seed[(counter + i) % seed.length]! * 167 + counter + i * 31) & 0xff
      counter += length
      return out
    },
  }
}

const params = fc
  .record({ n: fc.integer({ min: 2, max: 16 }), secret: fc.uint8Array({ minLength: 1, maxLength: 48 }), seed: fc.uint8Array({ minLength: 1, maxLength: 64 }) })
  .chain((p) => fc.record({ n: fc.constant(p.n), t: fc.integer({ min: 2, max: p.n }), secret: fc.constant(p.secret), seed: fc.constant(p.seed) }))

describe('shamir over GF(2^8), compatible with shamir-secret-sharing 0.0.4', () => {
  it('ours split → theirs combine, any threshold subset', async () => {
    await fc.assert(
      fc.asyncProperty(params, fc.integer(), async ({ n, t, secret, seed }, pick) => {
        const shares = splitSecret({ secret, shares: n, threshold: t, random: bytesRandom(seed) })
        expect(shares).toHaveLength(n)
        expect(new Set(shares.map((s) => s[secret.length])).size).toBe(n)
        const start = Math.abs(pick) % n
        const subset = Array.from({ length: t }, (_, i) => shares[(start + i) % n]!)
        expect(await combine(subset)).toEqual(secret)
        expect(combineShares(subset)).toEqual(secret)
      }),
      { numRuns: 200 },
    )
  })

  it('theirs split → ours combine', async () => {
    await fc.assert(
      fc.asyncProperty(params, async ({ n, t, secret }) => {
        const shares = await split(secret, n, t)
        expect(combineShares(shares.slice(n - t))).toEqual(secret)
        expect(combineShares(shares)).toEqual(secret)
      }),
      { numRuns: 200 },
    )
  })

  it('fewer than threshold shares do not give the secret', () => {
    const random = seededRandom('shamir-below-threshold')
    let hits = 0
    for (let run = 0; run < 50; run++) {
      const secret = random.bytes(32)
      const shares = splitSecret({ secret, shares: 5, threshold: 3, random })
      if (combineShares(shares.slice(0, 2)).every((b, i) => b === secret[i])) hits++
    }
    expect(hits).toBe(0)
  })

  it('threshold 1: every share alone is the secret', () => {
    const secret = seededRandom('t1').bytes(32)
    const shares = splitSecret({ secret, shares: 3, threshold: 1, random: seededRandom('t1r') })
    for (const share of shares) expect(combineShares([share])).toEqual(secret)
  })

  it('refuses malformed input with a clear error', () => {
    const random = seededRandom('shamir-bad')
    const secret = random.bytes(32)
    expect(() => splitSecret({ secret: new Uint8Array(0), shares: 3, threshold: 2, random })).toThrow(/invalid secret shares/)
    expect(() => splitSecret({ secret, shares: 17, threshold: 2, random })).toThrow()
    expect(() => splitSecret({ secret, shares: 0, threshold: 1, random })).toThrow()
    expect(() => splitSecret({ secret, shares: 3, threshold: 4, random })).toThrow()
    expect(() => splitSecret({ secret, shares: 3, threshold: 0, random })).toThrow()
    expect(() => splitSecret({ secret, shares: 2.5, threshold: 1, random })).toThrow()
    const shares = splitSecret({ secret, shares: 3, threshold: 2, random })
    expect(() => combineShares([])).toThrow()
    expect(() => combineShares([shares[0]!, shares[0]!])).toThrow(/invalid secret shares/)
    expect(() => combineShares([shares[0]!, shares[1]!.subarray(1)])).toThrow()
    const zeroX = shares[1]!.slice()
    zeroX[32] = 0
    expect(() => combineShares([shares[0]!, zeroX])).toThrow()
    expect(() => combineShares([new Uint8Array(1)])).toThrow()
  })
})
