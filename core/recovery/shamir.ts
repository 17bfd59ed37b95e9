/**
 * Shamir secret sharing over GF(2^8) (Shamir 1979, "How to share a secret"), byte-compatible
 * with `shamir-secret-sharing` 0.0.4 (privy-io; audited by Cure53 and Zellic): the same field
 * (AES polynomial x^8+x^4+x^3+x+1, 0x11b), one random polynomial per secret byte, and the
 * same share format `y_0 ‖ … ‖ y_{L-1} ‖ x`. Shares made here combine there and vice versa
 * (test/unit/recovery/shamir.test.ts checks both ways).
 *
 * Why our own ~100 lines rather than the library: core/ takes its randomness injected
 * (DESIGN §3) and the library calls `crypto.getRandomValues` itself; and the library's field
 * arithmetic indexes log/exp tables by secret bytes, a cache-timing channel. Here multiply
 * is a masked shift-and-add and inversion is a fixed exponentiation, a^254, so no branch or
 * memory index depends on a secret or a coefficient. x coordinates are public.
 *
 * @module
 */
import { KmsError } from '../errors'
import type { Random } from '../runtime'

/** The protocol's bounds (issue 15, KMSRegistry): 1 ≤ threshold ≤ shares ≤ 16. */
export const SHAMIR_MAX_SHARES = 16

function invalid(details: string): KmsError {
  return new KmsError('bad_request', 'invalid secret shares', { details })
}

/** a·b in GF(2^8) mod 0x11b, constant time: 8 rounds, masks instead of branches. */
function gfMul(a: number, b: number): number {
  let product = 0
  for (let round = 0; round < 8; round++) {
    product ^= a & -(b & 1)
    const carry = -((a >> 7) & 1)
    a = ((a << 1) ^ (0x1b & carry)) & 0xff
    b >>= 1
  }
  return product & 0xff
}

/** a^-1 = a^254 (Fermat in GF(2^8)); 0 maps to 0, which callers never divide by. */
function gfInverse(a: number): number {
  let result = 1
  let power = a
  // 254 = 0b11111110: square-and-multiply over its bits, always the same 8 steps.
  for (let bit = 0; bit < 8; bit++) {
    const factor = gfMul(result, power)
    const take = -((254 >> bit) & 1)
    result = (factor & take) | (result & ~take & 0xff)
    power = gfMul(power, power)
  }
  return result
}

/**
 * Splits `secret` into `shares` shares, any `threshold` of which rebuild it.
 * Each share is `secret.length + 1` bytes: the y values, then x (distinct, 1..255).
 * Randomness: `secret.length·(threshold−1)` coefficient bytes and 255 bytes to shuffle the x
 * coordinates, both from `random`.
 * @throws KmsError `bad_request` for an empty secret or counts outside 1 ≤ threshold ≤ shares ≤ 16.
 */
export function splitSecret(params: { secret: Uint8Array; shares: number; threshold: number; random: Random }): Uint8Array[] {
  const { secret, shares, threshold, random } = params
  if (!(secret instanceof Uint8Array) || secret.length === 0) throw invalid('secret must be non-empty bytes')
  if (!Number.isInteger(shares) || shares < 1 || shares > SHAMIR_MAX_SHARES) throw invalid(`shares must be 1..${SHAMIR_MAX_SHARES}`)
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > shares) throw invalid('threshold must be 1..shares')

  // The same x choice as the library: a shuffle of 1..255 driven by 255 random bytes
  // (its slight bias is harmless: x coordinates are public and need only be distinct).
  const xs = new Uint8Array(255)
  for (let i = 0; i < 255; i++) xs[i] = i + 1
  const swaps = random.bytes(255)
  for (let i = 0; i < 255; i++) {
    const j = swaps[i]! % 255
    const held = xs[i]!
    xs[i] = xs[j]!
    xs[j] = held
  }

  const length = secret.length
  const result: Uint8Array[] = []
  for (let s = 0; s < shares; s++) {
    const share = new Uint8Array(length + 1)
    share[length] = xs[s]!
    result.push(share)
  }
  const degree = threshold - 1
  const coefficients = new Uint8Array(degree + 1)
  for (let i = 0; i < length; i++) {
    coefficients[0] = secret[i]!
    if (degree > 0) coefficients.set(random.bytes(degree), 1)
    for (let s = 0; s < shares; s++) {
      const x = xs[s]!
      // Horner's rule from the highest coefficient.
      let y = coefficients[degree]!
      for (let c = degree - 1; c >= 0; c--) y = gfMul(y, x) ^ coefficients[c]!
      result[s]![i] = y
    }
  }
  coefficients.fill(0)
  return result
}

/**
 * Rebuilds the secret from shares by Lagrange interpolation at x = 0. Given fewer shares
 * than the threshold it returns a value unrelated to the secret: it cannot tell, so the
 * caller checks the result (the node compares keccak256 with the chain's hash).
 * @throws KmsError `bad_request` for no shares, more than 255, unequal lengths, a share
 *   shorter than 2 bytes, x = 0 or a duplicate x.
 */
export function combineShares(shares: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(shares) || shares.length === 0 || shares.length > 255) throw invalid('expected 1..255 shares')
  const first = shares[0]
  if (!(first instanceof Uint8Array) || first.length < 2) throw invalid('each share must be at least 2 bytes')
  const seen = new Set<number>()
  for (const share of shares) {
    if (!(share instanceof Uint8Array) || share.length !== first.length) throw invalid('all shares must have the same length')
    const x = share[share.length - 1]!
    if (x === 0) throw invalid('a share has x = 0')
    if (seen.has(x)) throw invalid('two shares have the same x')
    seen.add(x)
  }
  const length = first.length - 1
  const xs = shares.map((share) => share[length]!)
  // Lagrange basis at 0: l_i = Π_{j≠i} x_j / (x_i + x_j) (in GF(2^8), − is +).
  const basis = xs.map((xi, i) => {
    let value = 1
    xs.forEach((xj, j) => {
      if (j !== i) value = gfMul(value, gfMul(xj, gfInverse(xi ^ xj)))
    })
    return value
  })
  const secret = new Uint8Array(length)
  for (let b = 0; b < length; b++) {
    let value = 0
    for (let i = 0; i < shares.length; i++) value ^= gfMul(shares[i]![b]!, basis[i]!)
    secret[b] = value
  }
  return secret
}
