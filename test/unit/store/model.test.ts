/**
 * Model-based checks of one namespace: a naive reference (linear scans, an array for
 * recency, the merge table written out) must agree with the store's O(log n) queues, LRU set
 * and `mergeRecord` on every operation.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { bytesToHex, compareCodePoints, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { CLOCK_ENTRY_BYTES, incrementClock, isExpired, isSkipReason, RECORD_OVERHEAD_BYTES, type KvStoreLimits, type MergeOutcome, type StoreRecord } from '../../../core/store'
import { A, B, C, FakeClock, ciphertext, makeStore, vclock, view } from './_helpers'

// About three records (each is charged 925..1244 bytes here), and at most three records.
const MAX_BYTES = 3 * (RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES) + 250
const MAX_RECORDS = 3
const LIMITS: Partial<KvStoreLimits> = { maxValueSizeBytes: 60, maxAppStorageBytes: MAX_BYTES, maxRecordsPerApp: MAX_RECORDS, tombstoneRetentionMs: 60, maxTombstonesPerApp: 3 }

/** §6.4 written out: UTF-8 key bytes (the test keys are ASCII or one astral character) + ciphertext + overhead + entries. */
const referenceCharge = (r: StoreRecord) =>
  new TextEncoder().encode(r.key).length + r.ciphertext.length + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * r.clock.size

const olderTombstone = (x: StoreRecord, y: StoreRecord) => x.updatedAtMs - y.updatedAtMs || compareCodePoints(x.key, y.key)

class ReferenceNamespace {
  records = new Map<string, StoreRecord>()
  recency: string[] = [] // non-tombstone keys, least recently used first

  bytes(): number {
    let total = 0
    for (const r of this.records.values()) total += referenceCharge(r)
    return total
  }

  write(record: StoreRecord): void {
    this.records.set(record.key, record)
    this.recency = this.recency.filter((key) => key !== record.key)
    if (!record.tombstone) this.recency.push(record.key)
    while (this.bytes() > MAX_BYTES || this.records.size > MAX_RECORDS) {
      // The least recently used live record; once none is left, the oldest tombstone.
      const tombstones = [...this.records.values()].filter((r) => r.tombstone && r.key !== record.key).sort(olderTombstone)
      const victim = this.recency.find((key) => key !== record.key) ?? tombstones[0]?.key
      if (victim === undefined) break
      this.drop(victim)
    }
  }

  purge(now: number): void {
    for (const r of [...this.records.values()]) if (isExpired(r, now) || (r.tombstone && now - r.updatedAtMs >= 60)) this.drop(r.key)
    const tombstones = [...this.records.values()]
      .filter((r) => r.tombstone)
      .sort(olderTombstone)
    while (tombstones.length > 3) this.drop(tombstones.shift()!.key)
  }

  drop(key: string): void {
    this.records.delete(key)
    this.recency = this.recency.filter((k) => k !== key)
  }

  live(key: string): StoreRecord | undefined {
    const r = this.records.get(key)
    return r === undefined || r.tombstone ? undefined : r
  }
}

/**
 * A local write's time: `now`, or 1 ms after the record it supersedes (deviation from §6.2,
 * README). `previous` is whatever the key holds, tombstones and unpurged expired records included.
 */
const stamp = (previous: StoreRecord | undefined, now: number) => (previous === undefined ? now : Math.max(now, previous.updatedAtMs + 1))

/** §6.6 written out plainly, with the project rules: equal clocks with different content take the tie-break, and a concurrent full tie joins the clocks. */
function referenceMerge(S: StoreRecord | undefined, R: StoreRecord): MergeOutcome {
  if (S === undefined) return { reason: 'inserted', record: R }
  const wallets = [...new Set([...S.clock.keys(), ...R.clock.keys()])]
  const behind = wallets.some((w) => (S.clock.get(w) ?? 0) < (R.clock.get(w) ?? 0))
  const ahead = wallets.some((w) => (S.clock.get(w) ?? 0) > (R.clock.get(w) ?? 0))
  // Lowercase hex of the bytes orders like the bytes, a proper prefix first.
  const [r, s] = [bytesToHex(R.ciphertext), bytesToHex(S.ciphertext)]
  const rWins = R.updatedAtMs > S.updatedAtMs || (R.updatedAtMs === S.updatedAtMs && r > s)
  if (behind && !ahead) return { reason: 'replaced_by_version', record: R }
  if (ahead && !behind) return { reason: 'ignored_existing_newer_version', record: S }
  const same = R.updatedAtMs === S.updatedAtMs && R.tombstone === S.tombstone && r === s
  if (!ahead && !behind) return same || !rWins ? { reason: 'ignored_equal_version', record: S } : { reason: 'replaced_by_concurrent_lww', record: R }
  // Concurrent: a full tie joins the clocks like a win (docs §6.6 project rule).
  if (!rWins && !same) return { reason: 'ignored_concurrent_tie_break', record: S }
  const clock = new Map(wallets.map((w) => [w, Math.max(S.clock.get(w) ?? 0, R.clock.get(w) ?? 0)]))
  return { reason: 'replaced_by_concurrent_lww', record: { ...R, clock } }
}

type Op =
  | { kind: 'put'; key: string; size: number; ttl: number }
  | { kind: 'delete' | 'get'; key: string }
  | { kind: 'list' | 'stats' | 'snapshot' }
  | { kind: 'advance'; ms: number }
  | { kind: 'merge'; key: string; size: number; ttl: number; tombstone: boolean; wallet: Wallet; count: number; skew: number }

const arbKey = fc.constantFrom('a', 'b', 'c', 'd', 'e', '\u{1F600}')
const arbSize = fc.integer({ min: 28, max: 88 })
const arbTtl = fc.constantFrom(0, 0, 0, 5, 40)
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), key: arbKey, size: arbSize, ttl: arbTtl }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const), key: arbKey }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('list' as const, 'stats' as const, 'snapshot' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 30 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('merge' as const),
      key: arbKey,
      size: arbSize,
      ttl: arbTtl,
      tombstone: fc.boolean(),
      wallet: fc.constantFrom<Wallet>(A, B, C),
      count: fc.integer({ min: 1, max: 4 }),
      skew: fc.integer({ min: -20, max: 5 }),
    }),
  },
)

/** Runs `call`, mapping a `not_found` KmsError to the string 'not_found'. */
function outcome<T>(call: () => T): T | 'not_found' {
  try {
    return call()
  } catch (error) {
    if (error instanceof KmsError && error.code === 'not_found') return 'not_found'
    throw error
  }
}

describe('namespace against a reference model (§6.2–§6.6)', () => {
  test('property: every operation returns what the naive model returns', () => {
    fc.assert(
      fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => {
        const clock = new FakeClock()
        const { store } = makeStore({ clock, limits: LIMITS })
        const model = new ReferenceNamespace()
        for (const [serial, op] of ops.entries()) {
          const now = clock.now
          switch (op.kind) {
            case 'put': {
              const previous = model.records.get(op.key)
              const record: StoreRecord = {
                key: op.key,
                ciphertext: ciphertext(serial % 200, op.size),
                keyEpoch: 0,
                clock: incrementClock(previous?.clock ?? new Map(), A),
                updatedAtMs: stamp(previous, now),
                tombstone: false,
                ttlMs: op.ttl,
              }
              model.write(record)
              expect(view(store.put(1, op.key, record.ciphertext, op.ttl))).toEqual(view(record))
              break
            }
            case 'delete': {
              model.purge(now)
              const previous = model.live(op.key)
              const expected = previous && { key: op.key, ciphertext: new Uint8Array(0), keyEpoch: 0, clock: incrementClock(previous.clock, A), updatedAtMs: stamp(previous, now), tombstone: true, ttlMs: 0 }
              if (expected) model.write(expected)
              const actual = outcome(() => store.delete(1, op.key))
              expect(actual === 'not_found' ? actual : view(actual)).toEqual(expected ? view(expected) : 'not_found')
              break
            }
            case 'get': {
              model.purge(now)
              const expected = model.live(op.key)
              if (expected) model.recency = [...model.recency.filter((k) => k !== op.key), op.key]
              const actual = outcome(() => store.get(1, op.key))
              expect(actual === 'not_found' ? actual : view(actual)).toEqual(expected ? view(expected) : 'not_found')
              break
            }
            case 'list':
              model.purge(now)
              expect(store.list(1)).toEqual([...model.records.values()].filter((r) => !r.tombstone).map((r) => r.key).sort(compareCodePoints))
              break
            case 'stats': {
              model.purge(now)
              const live = [...model.records.values()].filter((r) => !r.tombstone).length
              expect(store.stats()).toEqual({ namespaces: model.records.size > 0 ? 1 : 0, total_keys: live, total_bytes: model.bytes() })
              break
            }
            case 'snapshot':
              model.purge(now)
              expect((store.snapshot()['1'] ?? []).map((r) => r.key)).toEqual([...model.records.keys()].sort(compareCodePoints))
              break
            case 'advance':
              clock.advance(op.ms)
              break
            case 'merge': {
              const incoming: StoreRecord = {
                key: op.key,
                ciphertext: op.tombstone ? new Uint8Array(0) : ciphertext(serial % 200, op.size),
                keyEpoch: 0,
                clock: vclock({ [op.wallet]: op.count }),
                updatedAtMs: now + op.skew,
                tombstone: op.tombstone,
                ttlMs: op.ttl,
              }
              const expected = referenceMerge(model.records.get(op.key), incoming)
              if (!isSkipReason(expected.reason)) model.write(expected.record)
              expect(store.merge(1, incoming)).toBe(expected.reason)
              break
            }
          }
          expect(model.bytes()).toBeLessThanOrEqual(MAX_BYTES)
          expect(model.records.size).toBeLessThanOrEqual(MAX_RECORDS)
        }
        model.purge(clock.now)
        expect((store.snapshot()['1'] ?? []).map((r) => r.key)).toEqual([...model.records.keys()].sort(compareCodePoints))
      }),
      { numRuns: 400 },
    )
  })
})

describe('limits under any sequence of operations (§6.4)', () => {
  const arbWrite = fc.record({
    app: fc.integer({ min: 1, max: 2 }),
    key: arbKey,
    size: arbSize,
    read: fc.option(arbKey, { nil: undefined }),
    viaMerge: fc.boolean(),
    tombstone: fc.boolean(),
  })

  test('property: the record just written is never evicted, and no namespace ends over the limit', () => {
    fc.assert(
      fc.property(fc.array(arbWrite, { maxLength: 80 }), (writes) => {
        const { store, clock } = makeStore({ limits: LIMITS })
        for (const [serial, write] of writes.entries()) {
          clock.advance(1)
          if (write.read !== undefined) outcome(() => store.get(write.app, write.read!))
          const bytes = ciphertext(serial % 200, write.size)
          if (write.viaMerge) {
            const incoming = { key: write.key, ciphertext: write.tombstone ? new Uint8Array(0) : bytes, keyEpoch: 0, clock: vclock({ [B]: serial + 1 }), updatedAtMs: clock.now, tombstone: write.tombstone, ttlMs: 0 }
            if (isSkipReason(store.merge(write.app, incoming))) continue
          } else store.put(write.app, write.key, bytes, 0)
          const held = store.snapshot()[String(write.app)] ?? []
          expect(held.map((r) => r.key)).toContain(write.key)
          const charged = (r: (typeof held)[number]) =>
            new TextEncoder().encode(r.key).length + (r.value === null ? 0 : r.value.length / 2) + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * Object.keys(r.version).length
          expect(held.reduce((sum, r) => sum + charged(r), 0)).toBeLessThanOrEqual(MAX_BYTES)
          expect(held.length).toBeLessThanOrEqual(MAX_RECORDS)
        }
      }),
      { numRuns: 300 },
    )
  })
})
