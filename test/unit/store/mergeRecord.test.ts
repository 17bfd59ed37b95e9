import { describe, expect, test } from 'vitest'
import { isSkipReason, mergeRecord } from '../../../core/store'
import { A, B, T0, record, vclock, view } from './_helpers'

describe('mergeRecord: the §6.6 table (conformance 67)', () => {
  const S = record({ clock: vclock({ [A]: 1 }), ciphertext: new Uint8Array(28).fill(5) })

  test('vector: no S → store R, inserted', () => {
    const R = record({})
    const outcome = mergeRecord(undefined, R)
    expect(outcome.reason).toBe('inserted')
    expect(outcome.record).toBe(R)
  })

  test('vector: S happened-before R → store R, replaced_by_version', () => {
    // R is older by wall time and smaller by bytes: the clock alone decides.
    const R = record({ clock: vclock({ [A]: 2 }), updatedAtMs: T0 - 5, ciphertext: new Uint8Array(28) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('replaced_by_version')
    expect(outcome.record).toBe(R)
  })

  test('vector: equal clocks, same content → keep S, ignored_equal_version', () => {
    const R = record({ clock: vclock({ [A]: 1 }), ciphertext: new Uint8Array(28).fill(5) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('ignored_equal_version')
    expect(outcome.record).toBe(S)
  })

  // Deviation from §6.6 (README): §6.6 keeps S on any equal clock. This used to expect
  // `ignored_equal_version` for an R that is later and different; now the tie-break decides.
  test('vector: equal clocks, R later → store R as it is, replaced_by_concurrent_lww (deviation, README)', () => {
    const R = record({ clock: vclock({ [A]: 1 }), updatedAtMs: T0 + 5, ciphertext: new Uint8Array(28).fill(9) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(outcome.record).toBe(R) // the clocks are equal, so there is nothing to merge
  })

  test('vector: equal clocks, R earlier → keep S, ignored_equal_version (deviation, README)', () => {
    const R = record({ clock: vclock({ [A]: 1 }), updatedAtMs: T0 - 5, ciphertext: new Uint8Array(28).fill(9) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('ignored_equal_version')
    expect(outcome.record).toBe(S)
  })

  test('vector: R happened-before S → keep S, ignored_existing_newer_version', () => {
    const newer = record({ clock: vclock({ [A]: 2, [B]: 1 }) })
    const R = record({ clock: vclock({ [A]: 1 }), updatedAtMs: T0 + 5, ciphertext: new Uint8Array(28).fill(9) })
    const outcome = mergeRecord(newer, R)
    expect(outcome.reason).toBe('ignored_existing_newer_version')
    expect(outcome.record).toBe(newer)
  })

  test('vector: concurrent, R later → store R with max(S, R), replaced_by_concurrent_lww', () => {
    const R = record({ clock: vclock({ [B]: 1 }), updatedAtMs: T0 + 1, ciphertext: new Uint8Array(28) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(view(outcome.record)).toEqual({ ...view(R), clock: { [A]: 1, [B]: 1 } })
  })

  test('vector: concurrent, S later → keep S as it is, ignored_concurrent_tie_break', () => {
    const R = record({ clock: vclock({ [B]: 1 }), updatedAtMs: T0 - 1, ciphertext: new Uint8Array(28).fill(0xff) })
    const outcome = mergeRecord(S, R)
    expect(outcome.reason).toBe('ignored_concurrent_tie_break')
    expect(outcome.record).toBe(S)
  })

  test('behavior: only the ignored_* reasons are skips', () => {
    expect(['inserted', 'replaced_by_version', 'replaced_by_concurrent_lww'].map((r) => isSkipReason(r as never))).toEqual([false, false, false])
    expect(
      ['ignored_equal_version', 'ignored_existing_newer_version', 'ignored_concurrent_tie_break'].map((r) => isSkipReason(r as never)),
    ).toEqual([true, true, true])
  })
})

describe('mergeRecord: concurrent ties at equal updated_at_ms (conformance 68)', () => {
  const stored = (bytes: number[]) => record({ clock: vclock({ [A]: 1 }), ciphertext: Uint8Array.from(bytes) })
  const incoming = (bytes: number[], tombstone = false) =>
    record({ clock: vclock({ [B]: 1 }), ciphertext: Uint8Array.from(bytes), tombstone })

  test('behavior: the greater ciphertext wins, and the stored clock is the element-wise max', () => {
    const outcome = mergeRecord(stored([1, 0xff]), incoming([2, 0]))
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(view(outcome.record)?.clock).toEqual({ [A]: 1, [B]: 1 })
    expect(mergeRecord(stored([2, 0]), incoming([1, 0xff])).reason).toBe('ignored_concurrent_tie_break')
  })

  test('behavior: the comparison is unsigned (0x80 > 0x7f)', () => {
    expect(mergeRecord(stored([0x7f]), incoming([0x80])).reason).toBe('replaced_by_concurrent_lww')
  })

  test('behavior: a proper prefix is smaller', () => {
    expect(mergeRecord(stored([1, 2]), incoming([1, 2, 0])).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(stored([1, 2, 0]), incoming([1, 2])).reason).toBe('ignored_concurrent_tie_break')
  })

  test('behavior: a tombstone ciphertext is empty, so it loses a tie to any value and wins none', () => {
    expect(mergeRecord(stored([0]), incoming([], true)).reason).toBe('ignored_concurrent_tie_break')
    const tombstone = record({ clock: vclock({ [A]: 1 }), tombstone: true })
    expect(mergeRecord(tombstone, incoming([0])).reason).toBe('replaced_by_concurrent_lww')
  })

  test('behavior: an identical timestamp and ciphertext (a full tie) keeps the value and stores the joined clock (project rule, docs §6.6)', () => {
    const outcome = mergeRecord(stored([3]), incoming([3]))
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(view(outcome.record)).toEqual({ ...view(stored([3])), clock: { [A]: 1, [B]: 1 } })
    // Either way round, the two replicas now hold one clock.
    expect(view(mergeRecord(incoming([3]), stored([3])).record)?.clock).toEqual({ [A]: 1, [B]: 1 })
  })

  test('behavior: two tombstones of one ms under concurrent clocks join theirs too', () => {
    const tombstone = (clock: Record<string, number>) => record({ clock: vclock(clock), tombstone: true })
    const outcome = mergeRecord(tombstone({ [A]: 1 }), tombstone({ [B]: 2 }))
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(view(outcome.record)?.clock).toEqual({ [A]: 1, [B]: 2 })
  })
})

describe('mergeRecord: equal clocks with different content (deviation from §6.6, README)', () => {
  // Equal clocks with different values come from a writer whose counter was reset (restart,
  // expiry, purge or eviction). §6.6 keeps S, so two replicas could keep different values forever.
  const stored = (fields: Parameters<typeof record>[0]) => record({ clock: vclock({ [A]: 1, [B]: 2 }), ...fields })
  const incoming = (fields: Parameters<typeof record>[0]) => record({ clock: vclock({ [B]: 2, [A]: 1 }), ...fields })

  test('behavior: at equal timestamps the bytewise-greater ciphertext wins, unsigned, a prefix being smaller', () => {
    expect(mergeRecord(stored({ ciphertext: Uint8Array.from([0x7f]) }), incoming({ ciphertext: Uint8Array.from([0x80]) })).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(stored({ ciphertext: Uint8Array.from([0x80]) }), incoming({ ciphertext: Uint8Array.from([0x7f]) })).reason).toBe('ignored_equal_version')
    expect(mergeRecord(stored({ ciphertext: Uint8Array.from([1, 2]) }), incoming({ ciphertext: Uint8Array.from([1, 2, 0]) })).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(stored({ ciphertext: Uint8Array.from([1, 2, 0]) }), incoming({ ciphertext: Uint8Array.from([1, 2]) })).reason).toBe('ignored_equal_version')
  })

  test('behavior: a tombstone is a different content: it wins by time and loses a timestamp tie to any value', () => {
    expect(mergeRecord(stored({}), incoming({ tombstone: true, updatedAtMs: T0 + 1 })).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(stored({}), incoming({ tombstone: true })).reason).toBe('ignored_equal_version')
    const outcome = mergeRecord(stored({ tombstone: true }), incoming({ ciphertext: new Uint8Array(28) }))
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(view(outcome.record)?.clock).toEqual({ [A]: 1, [B]: 2 })
  })

  test('behavior: the same content under an equal clock (a duplicate delivery) keeps S', () => {
    const S = stored({ ciphertext: new Uint8Array(28).fill(3) })
    const outcome = mergeRecord(S, incoming({ ciphertext: new Uint8Array(28).fill(3) }))
    expect(outcome.reason).toBe('ignored_equal_version')
    expect(outcome.record).toBe(S)
    expect(mergeRecord(stored({ tombstone: true }), incoming({ tombstone: true })).reason).toBe('ignored_equal_version')
  })

  test('behavior: the outcome does not depend on which record is stored', () => {
    const records = [stored({ updatedAtMs: T0 + 1 }), stored({ ciphertext: new Uint8Array(28).fill(9) }), stored({ tombstone: true, updatedAtMs: T0 + 1 }), stored({})]
    const winner = records[0]! // latest, and at T0 + 1 the value beats the tombstone
    for (const x of records) for (const y of records) {
      const kept = mergeRecord(mergeRecord(x, y).record, winner).record
      expect(view(kept)).toEqual(view(winner))
      expect(view(mergeRecord(x, y).record)).toEqual(view(mergeRecord(y, x).record))
    }
  })
})

describe('mergeRecord: the §6.6 worked example', () => {
  test('vector: X and Y converge on R with clock {a:1,b:1}', () => {
    const S = record({ clock: vclock({ [A]: 1 }), updatedAtMs: 1000, ciphertext: new Uint8Array(28).fill(1) })
    const R = record({ clock: vclock({ [B]: 1 }), updatedAtMs: 1000, ciphertext: new Uint8Array(28).fill(2) })
    // 1. X receives R: R wins the tie, and X stores it with {a:1,b:1}.
    const atX = mergeRecord(S, R)
    expect(atX.reason).toBe('replaced_by_concurrent_lww')
    expect(view(atX.record)).toEqual({ ...view(R), clock: { [A]: 1, [B]: 1 } })
    // 2. Y receives S: S loses, and Y keeps R with {b:1}.
    const atY = mergeRecord(R, S)
    expect(atY.reason).toBe('ignored_concurrent_tie_break')
    expect(atY.record).toBe(R)
    // 3. Y receives X's copy: {b:1} happened-before {a:1,b:1}.
    const later = mergeRecord(atY.record, atX.record)
    expect(later.reason).toBe('replaced_by_version')
    expect(view(later.record)).toEqual(view(atX.record))
  })
})
