import type { Clock } from '../runtime'

/**
 * A map whose entries expire at a per-entry time read from the injected clock. Owned by one
 * client object, never module-level (STYLE.md "Anti-patterns").
 */
export class TtlCache<Key, Value> {
  readonly #clock: Clock
  readonly #entries = new Map<Key, { value: Value; expiresAtMs: number }>()

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** The live value, or `undefined` once `ttlMs` has passed since it was set. */
  get(key: Key): Value | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (this.#clock.nowMs() >= entry.expiresAtMs) {
      this.#entries.delete(key)
      return undefined
    }
    return entry.value
  }

  set(key: Key, value: Value, ttlMs: number): void {
    this.#entries.set(key, { value, expiresAtMs: this.#clock.nowMs() + ttlMs })
  }

  delete(key: Key): void {
    this.#entries.delete(key)
  }
}
