/**
 * One string per wallet in a namespace's clocks (PROTOCOL §6.4 memory). Wallets parsed from a
 * /sync body are fresh strings, 64 bytes each on Node 20; a namespace of records written by a
 * few nodes needs only a few of them. The table is bounded: a peer sending endless new wallets
 * (each charged CLOCK_ENTRY_BYTES anyway) only makes it start over, never grow past the cap.
 */
import type { Wallet } from '../encoding'

/** More wallets than a cluster's nodes will ever write with, and a few kilobytes at most. */
const MAX_INTERNED_WALLETS = 1024

export class WalletInterner {
  #wallets = new Map<string, Wallet>()

  /** The namespace's one copy of `wallet` (an equal string). */
  intern(wallet: Wallet): Wallet {
    const known = this.#wallets.get(wallet)
    if (known !== undefined) return known
    if (this.#wallets.size >= MAX_INTERNED_WALLETS) this.#wallets = new Map()
    this.#wallets.set(wallet, wallet)
    return wallet
  }

  get size(): number {
    return this.#wallets.size
  }
}
