/**
 * A bounded read-through cache with per-entry lifetimes, for registry reads (PROTOCOL §3.3).
 * Failures are never stored, concurrent misses on one key share one load, and loads that
 * started before `clear()` never repopulate the cache.
 */
import type { Clock } from '../runtime'

interface Entry<V> {
  value: V
  expiresAtMs: number
}

export class ReadThroughCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #inFlight = new Map<string, Promise<V>>()
  readonly #clock: Clock
  readonly #maxEntries: number
  #generation = 0

  constructor(clock: Clock, maxEntries: number) {
    this.#clock = clock
    this.#maxEntries = maxEntries
  }

  /** The cached value for `key`, or `load()`'s, kept for `lifetimeMs(value)` ms. */
  read(key: string, load: () => Promise<V>, lifetimeMs: (value: V) => number): Promise<V> {
    const cached = this.#entries.get(key)
    if (cached !== undefined) {
      if (this.#clock.nowMs() < cached.expiresAtMs) return Promise.resolve(cached.value)
      this.#entries.delete(key)
    }
    const pending = this.#inFlight.get(key)
    if (pending !== undefined) return pending

    const generation = this.#generation
    const loading = load().then((value) => {
      if (generation === this.#generation) this.#store(key, value, lifetimeMs(value))
      return value
    })
    const settled = (): void => {
      if (this.#inFlight.get(key) === loading) this.#inFlight.delete(key)
    }
    loading.then(settled, settled)
    this.#inFlight.set(key, loading)
    return loading
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
    this.#inFlight.clear()
  }

  #store(key: string, value: V, lifetimeMs: number): void {
    if (lifetimeMs <= 0) return
    this.#entries.delete(key) // re-inserting moves the key to the newest end
    this.#entries.set(key, { value, expiresAtMs: this.#clock.nowMs() + lifetimeMs })
    // Clients choose which wallets get looked up, so memory must stay bounded whatever they
    // send. A Map iterates in insertion order: its first key is the oldest entry.
    if (this.#entries.size > this.#maxEntries) {
      const [oldest] = this.#entries.keys()
      this.#entries.delete(oldest!)
    }
  }
}
