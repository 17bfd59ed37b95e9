/**
 * A bounded read-through cache with per-entry lifetimes and a hard age bound, for registry
 * reads (PROTOCOL §3.3). Failures are never stored, concurrent misses on one key share one
 * load, and loads that started before `clear()` never repopulate the cache.
 *
 * Every age is counted from the moment the load **started** (just before the RPC request
 * was sent), never from when its answer arrived: an answer that took 9 s to come back
 * describes the chain as it was 9 s ago, and a slow or delaying RPC must not stretch how
 * long it is believed.
 */
import type { Clock } from '../runtime'

interface Entry<V> {
  value: V
  /** `clock.nowMs()` when the load that produced `value` started. */
  readAtMs: number
  /** Served without a load until then: `readAtMs + min(lifetime, maxAgeMs)`. */
  freshUntilMs: number
}

export interface ReadThroughCacheOptions {
  /** Entries kept; the oldest goes first. */
  maxEntries: number
  /**
   * The hard bound: an entry read this long ago is never served, not even when the reload
   * fails; no lifetime exceeds it. Below it, an entry past its lifetime is served only if
   * its reload fails (the reload's error is then swallowed).
   */
  maxAgeMs: number
  /**
   * Refresh ahead: a read that finds its entry fresh but with less than this many ms of its
   * lifetime left still answers from the entry, and starts the reload in the background
   * (once; its failure is dropped, as the entry is still fresh). So an entry in steady use
   * is reloaded before it expires, and no request waits on the chain for it; what is served
   * is never older than before. 0 (the default): reload only on expiry.
   */
  refreshAheadMs?: number
}

export class ReadThroughCache<V> {
  readonly #entries = new Map<string, Entry<V>>()
  readonly #inFlight = new Map<string, Promise<V>>()
  readonly #clock: Clock
  readonly #maxEntries: number
  readonly #maxAgeMs: number
  readonly #refreshAheadMs: number
  #generation = 0

  constructor(clock: Clock, options: ReadThroughCacheOptions) {
    this.#clock = clock
    this.#maxEntries = options.maxEntries
    this.#maxAgeMs = options.maxAgeMs
    this.#refreshAheadMs = options.refreshAheadMs ?? 0
  }

  /**
   * The cached value for `key` while it is fresh; otherwise `load()`'s, kept fresh for
   * `lifetimeMs(value)` ms (at most `maxAgeMs`) from the start of the load. If the load fails
   * and the previous value was read less than `maxAgeMs` ago, that value is returned instead.
   */
  read(key: string, load: () => Promise<V>, lifetimeMs: (value: V) => number): Promise<V> {
    const cached = this.#entries.get(key)
    if (cached !== undefined) {
      const now = this.#clock.nowMs()
      if (cached.readAtMs <= now && now < cached.freshUntilMs) {
        if (cached.freshUntilMs - now <= this.#refreshAheadMs && !this.#inFlight.has(key)) {
          this.#load(key, load, lifetimeMs).catch(() => undefined)
        }
        return Promise.resolve(cached.value)
      }
      if (!this.#withinBound(cached, now)) this.#entries.delete(key)
    }
    const loading = this.#inFlight.get(key) ?? this.#load(key, load, lifetimeMs)
    return loading.catch((error: unknown) => {
      const fallback = this.#entries.get(key)
      if (fallback !== undefined && this.#withinBound(fallback, this.#clock.nowMs())) return fallback.value
      throw error
    })
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
    this.#inFlight.clear()
  }

  #load(key: string, load: () => Promise<V>, lifetimeMs: (value: V) => number): Promise<V> {
    const generation = this.#generation
    const readAtMs = this.#clock.nowMs()
    const loading = load().then((value) => {
      if (generation === this.#generation) this.#store(key, value, readAtMs, lifetimeMs(value))
      return value
    })
    const settled = (): void => {
      if (this.#inFlight.get(key) === loading) this.#inFlight.delete(key)
    }
    loading.then(settled, settled)
    this.#inFlight.set(key, loading)
    return loading
  }

  /** Read less than `maxAgeMs` ago, by a clock that has not gone backwards since. */
  #withinBound(entry: Entry<V>, now: number): boolean {
    return entry.readAtMs <= now && now - entry.readAtMs < this.#maxAgeMs
  }

  #store(key: string, value: V, readAtMs: number, lifetimeMs: number): void {
    // A newer answer replaces the old one even when it is not kept: the old value must not
    // survive as a fallback behind a newer read.
    this.#entries.delete(key) // re-inserting moves the key to the newest end
    if (lifetimeMs <= 0) return
    this.#entries.set(key, { value, readAtMs, freshUntilMs: readAtMs + Math.min(lifetimeMs, this.#maxAgeMs) })
    // Clients choose which wallets get looked up, so memory must stay bounded whatever they
    // send. A Map iterates in insertion order: its first key is the oldest entry.
    if (this.#entries.size > this.#maxEntries) {
      const [oldest] = this.#entries.keys()
      this.#entries.delete(oldest!)
    }
  }
}
