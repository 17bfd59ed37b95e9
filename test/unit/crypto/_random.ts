/** Deterministic `Random`s for tests (DESIGN §3: randomness is injected). */
import { sha256 } from '@noble/hashes/sha2.js'
import type { Random } from '../../../core/runtime'

/** A reproducible stream: SHA-256(label ‖ counter) blocks. */
export function seededRandom(label: string): Random {
  let counter = 0
  return {
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length)
      for (let offset = 0; offset < length; offset += 32) {
        const block = sha256(new TextEncoder().encode(`${label}:${counter++}`))
        out.set(block.subarray(0, Math.min(32, length - offset)), offset)
      }
      return out
    },
  }
}

/** Returns the given byte strings in order, checking each requested length. */
export function scriptedRandom(...draws: Uint8Array[]): Random {
  const queue = [...draws]
  return {
    bytes(length: number): Uint8Array {
      const next = queue.shift()
      if (next === undefined) throw new Error('scriptedRandom: no draw left')
      if (next.length !== length) throw new Error(`scriptedRandom: asked ${length} bytes, scripted ${next.length}`)
      return next
    },
  }
}
