/**
 * The bounded, single-use nonce store (PROTOCOL §3.1.3). One store serves app PoP,
 * attestation auth and peer PoP.
 */
import { bytesToBase64 } from '../encoding'
import { nowSeconds, type Clock, type Random } from '../runtime'

export interface NonceStoreOptions {
  clock: Clock
  random: Random
  /** `POP_TIMEOUT_SECONDS`: an entry is valid while `now_s ≤ issued_s + ttl`. */
  ttlSeconds: number
  /** `MAX_NONCES`. */
  capacity: number
}

export class NonceStore {
  readonly #options: NonceStoreOptions
  /** base64 nonce → expiry (s). Map order is issue order, so the first entry is the oldest. */
  readonly #expiries = new Map<string, number>()

  constructor(options: NonceStoreOptions) {
    this.#options = options
  }

  get size(): number {
    return this.#expiries.size
  }

  /** Issues a fresh 16-byte nonce, as 24 characters of base64 (PROTOCOL §2.3). */
  issue(): string {
    const now = nowSeconds(this.#options.clock)
    this.#purgeExpired(now)
    while (this.#expiries.size >= this.#options.capacity) {
      const oldest = this.#expiries.keys().next().value
      if (oldest === undefined) break
      this.#expiries.delete(oldest)
    }
    const nonce = bytesToBase64(this.#options.random.bytes(16))
    // A 128-bit collision is not a practical concern; re-inserting keeps order honest anyway.
    this.#expiries.delete(nonce)
    this.#expiries.set(nonce, now + this.#options.ttlSeconds)
    return nonce
  }

  /**
   * Consumes `nonce`: true at most once per issued nonce, and only before it expires.
   * The caller has already checked the request timestamp (§3.1.2: the stale check runs
   * before the nonce is touched).
   */
  consume(nonce: string): boolean {
    const now = nowSeconds(this.#options.clock)
    this.#purgeExpired(now)
    const expiry = this.#expiries.get(nonce)
    if (expiry === undefined) return false
    this.#expiries.delete(nonce)
    return now <= expiry
  }

  #purgeExpired(now: number): void {
    // Issue order is expiry order under a monotonic clock; a clock that steps back only
    // delays purging, and `consume` still checks the expiry of the entry it finds.
    for (const [nonce, expiry] of this.#expiries) {
      if (now <= expiry) break
      this.#expiries.delete(nonce)
    }
  }
}
