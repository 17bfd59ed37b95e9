/**
 * The per-wallet sync version memory of PROTOCOL §3.6: once a node has verified a v2
 * request or a v2 answer binding from wallet W, it refuses v1 from W and never sends v1 to W,
 * for the life of the process. A version is learnt only from a verified signature (the
 * caller's job), never from `/status` or an error.
 *
 * Bounded by the peer cache: a flag is only ever set for a wallet in the cache (the server
 * sets it after §4.2 step 3, the requester for a peer it took from the cache), and whenever
 * the memory holds more than twice as many wallets as the cache, the wallets no longer in
 * the cache are dropped. So it never holds more than 2 × (peer cache size) + 1 entries, and
 * a wallet that misses from one refresh (a skipped read, §7.2) keeps its flag.
 */
import type { Wallet } from '../encoding'

export class SyncVersions {
  readonly #v2 = new Set<Wallet>()
  readonly #cached: (() => Iterable<Wallet>) | undefined

  /** `cached` lists the wallets in the peer cache now; without it nothing is ever dropped. */
  constructor(cached?: () => Iterable<Wallet>) {
    this.#cached = cached
  }

  /** True once a v2 signature from `wallet` has been verified. */
  isV2(wallet: Wallet): boolean {
    return this.#v2.has(wallet)
  }

  /** Call only after verifying a v2 PoP or v2 binding made by `wallet`. */
  markV2(wallet: Wallet): void {
    if (this.#v2.has(wallet)) return
    this.#v2.add(wallet)
    if (this.#cached === undefined) return
    const cached = new Set(this.#cached())
    if (this.#v2.size <= 2 * cached.size) return
    for (const known of this.#v2) if (known !== wallet && !cached.has(known)) this.#v2.delete(known)
  }

  /** How many wallets are flagged (for tests and metrics). */
  get size(): number {
    return this.#v2.size
  }
}
