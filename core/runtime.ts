/**
 * The injected sources of time and randomness (DESIGN §3). `core/` never reads the wall
 * clock or a random source itself; the bundle passes real ones, tests and the simulation
 * pass controlled ones.
 *
 * @module
 */

export interface Clock {
  /** Unix time in milliseconds. */
  nowMs(): number
}

export interface Random {
  /** `length` cryptographically random bytes. */
  bytes(length: number): Uint8Array
}

/** `now_s = floor(now_ms / 1000)` (PROTOCOL §0). */
export function nowSeconds(clock: Clock): number {
  return Math.floor(clock.nowMs() / 1000)
}
