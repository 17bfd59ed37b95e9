/**
 * The real clock, randomness and sleep an app passes to the clients. The SDK itself never
 * reads the wall clock or a random source (DESIGN §3); these are the package's defaults for
 * the caller to inject. Nothing runs at import time: workerd forbids crypto at module scope.
 */
import type { Sleep } from '../../../core/cluster/retry'
import type { Clock, Random } from '../../../core/runtime'

/** `Date.now()`. */
export const systemClock: Clock = { nowMs: () => Date.now() }

/** WebCrypto's `getRandomValues`, in chunks of at most 65 536 bytes (its per-call limit). */
export const cryptoRandom: Random = {
  bytes(length) {
    const out = new Uint8Array(length)
    for (let offset = 0; offset < length; offset += 65_536) {
      globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
    }
    return out
  },
}

/** `setTimeout` as a promise. */
export const timerSleep: Sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds))
