/** Vector clocks (PROTOCOL §6.5): canonical wallet → integer ≥ 1, a missing entry is 0. */
import type { Wallet } from '../encoding'

/**
 * The largest clock entry (§6.5, §6.7): 2^32. A peer's entry above it is refused, and a local
 * write that would pass it is refused (400), so that no key can be made unwritable by pushing
 * its counter to the end of the safe-integer range.
 */
export const MAX_CLOCK_ENTRY = 2 ** 32

/** A vector clock. Treated as immutable: every operation returns a new map. */
export type VectorClock = ReadonlyMap<Wallet, number>

/** How clock X relates to clock Y; `before` means X happened-before Y. */
export type ClockOrder = 'equal' | 'before' | 'after' | 'concurrent'

/** Compares two clocks entry by entry (PROTOCOL §6.5). */
export function compareClocks(x: VectorClock, y: VectorClock): ClockOrder {
  let less = false
  let greater = false
  for (const [wallet, xValue] of x) {
    const yValue = y.get(wallet) ?? 0
    if (xValue < yValue) less = true
    else if (xValue > yValue) greater = true
  }
  for (const [wallet, yValue] of y) if (!x.has(wallet) && yValue > 0) less = true
  if (less) return greater ? 'concurrent' : 'before'
  return greater ? 'after' : 'equal'
}

/** The element-wise maximum of two clocks (PROTOCOL §6.5, §6.6 concurrent win). */
export function mergeClocks(x: VectorClock, y: VectorClock): VectorClock {
  const merged = new Map(x)
  for (const [wallet, yValue] of y) if (yValue > (merged.get(wallet) ?? 0)) merged.set(wallet, yValue)
  return merged
}

/** Whether `wallet`'s entry can still be incremented without passing MAX_CLOCK_ENTRY. */
export function canIncrement(clock: VectorClock, wallet: Wallet): boolean {
  return (clock.get(wallet) ?? 0) < MAX_CLOCK_ENTRY
}

/**
 * `clock` with `wallet`'s entry incremented (PROTOCOL §6.2).
 * @throws RangeError if the entry would pass MAX_CLOCK_ENTRY (2^32); check `canIncrement` first.
 */
export function incrementClock(clock: VectorClock, wallet: Wallet): VectorClock {
  if (!canIncrement(clock, wallet)) throw new RangeError('incrementClock: entry would exceed 2^32')
  const next = (clock.get(wallet) ?? 0) + 1
  return new Map(clock).set(wallet, next)
}
