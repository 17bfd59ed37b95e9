/**
 * The real clock, randomness and sleep the runtime's core parts are given (DESIGN §3): the
 * only place the runtime reads the wall clock or a random source.
 */
import type { Sleep } from '../core/cluster'
import type { Clock, Random } from '../core/runtime'

export const systemClock: Clock = { nowMs: () => Date.now() }

export const webCryptoRandom: Random = {
  bytes(length) {
    const out = new Uint8Array(length)
    // getRandomValues fills at most 65536 bytes per call.
    for (let offset = 0; offset < length; offset += 65_536) globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
    return out
  },
}

export const timerSleep: Sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds))
