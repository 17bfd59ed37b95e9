/**
 * The real clock, randomness and sleep, given to `core/` by injection (DESIGN §3). These are
 * the only places the bundle reads the wall clock or a random source.
 */
import type { Clock, Random } from '../core/runtime'
import type { Sleep } from '../core/cluster'

export const systemClock: Clock = { nowMs: () => Date.now() }

export const webCryptoRandom: Random = {
  bytes(length) {
    const out = new Uint8Array(length)
    // getRandomValues fills at most 65536 bytes per call.
    for (let offset = 0; offset < length; offset += 65_536) {
      globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
    }
    return out
  },
}

export const timerSleep: Sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds))
