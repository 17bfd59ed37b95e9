/** A controllable `Clock` and a seeded `Random` for unit tests and simulations. */
import type { Clock, Random } from '../../core/runtime'

export class FakeClock implements Clock {
  constructor(public ms: number) {}
  nowMs(): number {
    return this.ms
  }
  advanceSeconds(seconds: number): void {
    this.ms += seconds * 1000
  }
}

/** xorshift-based bytes: reproducible, and NOT for keys outside tests. */
export function seededRandom(seed = 1): Random {
  let state = seed >>> 0 || 1
  return {
    bytes(length) {
      const out = new Uint8Array(length)
      for (let index = 0; index < length; index++) {
        state ^= state << 13
        state ^= state >>> 17
        state ^= state << 5
        out[index] = state & 0xff
      }
      return out
    },
  }
}
