/** Vector clocks (PROTOCOL §6.5): canonical wallet → integer ≥ 1, a missing entry is 0. */
import type { Wallet } from '../encoding'

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

/**
 * `clock` with `wallet`'s entry incremented (PROTOCOL §6.2).
 * @throws RangeError if the entry would leave the safe-integer range (§0: every number ≤ 2^53−1).
 */
export function incrementClock(clock: VectorClock, wallet: Wallet): VectorClock {
  const next = (clock.get(wallet) ?? 0) + 1
  if (!Number.isSafeInteger(next)) throw new RangeError('incrementClock: entry would exceed 2^53-1')
  return new Map(clock).set(wallet, next)
}
