import { bytesToHex } from '../encoding'
import { assertBytes, assertInteger } from '../_assert'

/** The replay window of envelope cipher v1 (PROTOCOL §10.2). */
export const REPLAY_MEMORY_CAPACITY = 4096

/**
 * The `(peer DER, nonce)` pairs an envelope decrypter has accepted: the last 4096, first in
 * first out (PROTOCOL §10.2). Owned by one decrypter (the dev stand-in holds one per
 * process, as Odyn does); never module-level.
 */
export class ReplayMemory {
  readonly #capacity: number
  // A Set iterates in insertion order, so its first entry is the oldest.
  readonly #pairs = new Set<string>()

  constructor(capacity: number = REPLAY_MEMORY_CAPACITY) {
    assertInteger(capacity, 'capacity', 1, Number.MAX_SAFE_INTEGER)
    this.#capacity = capacity
  }

  /** Number of pairs held. */
  get size(): number {
    return this.#pairs.size
  }

  /**
   * Records an accepted pair. Call it only after the envelope fully decrypted, so a forged
   * envelope cannot burn a pair; and act on the answer even then, since two concurrent
   * decryptions of one envelope can both get that far.
   * @param peerPublicKeyDer the peer key in its normalised DER form.
   * @returns `false` if the pair was already held (a replay), `true` if newly recorded.
   */
  remember(peerPublicKeyDer: Uint8Array, nonce: Uint8Array): boolean {
    assertBytes(peerPublicKeyDer, 'peerPublicKeyDer')
    assertBytes(nonce, 'nonce')
    const pair = `${bytesToHex(peerPublicKeyDer)}:${bytesToHex(nonce)}`
    if (this.#pairs.has(pair)) return false
    if (this.#pairs.size >= this.#capacity) {
      const oldest = this.#pairs.values().next()
      if (oldest.done !== true) this.#pairs.delete(oldest.value)
    }
    this.#pairs.add(pair)
    return true
  }
}
