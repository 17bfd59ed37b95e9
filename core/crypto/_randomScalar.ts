import type { Random } from '../runtime'
import { assertBytes } from '../_assert'

const MAX_DRAWS = 64

/**
 * Draws a secret scalar by rejection sampling: `length` bytes from the injected `Random`,
 * kept if `isValid` (1 ≤ d < n). For P-384 and secp256k1 a draw is rejected with
 * probability below 2^−127, so one draw is the rule. Using the bytes as they come, rather
 * than reducing a wider seed, lets a scripted `Random` choose the scalar, which the
 * PROTOCOL §5.7 vectors need.
 * @throws Error if `MAX_DRAWS` draws all fail: only a broken `Random` does that.
 */
export function drawSecretScalar(random: Random, length: number, isValid: (scalar: Uint8Array) => boolean): Uint8Array {
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const candidate = random.bytes(length)
    assertBytes(candidate, 'random.bytes()', length)
    if (isValid(candidate)) return candidate
  }
  throw new Error(`random: no valid secret scalar in ${MAX_DRAWS} draws`)
}
