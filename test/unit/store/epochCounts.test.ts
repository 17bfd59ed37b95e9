/**
 * `recordsBelowEpoch` (PROTOCOL §6.10): counters, not a scan, kept exact by every path that
 * stores or removes a record: put (insert and replace), delete, merge and ingest, purge of
 * expired records, LRU eviction by bytes and by count, clear, re-encryption and the drop of a
 * wiped epoch. Tombstones never count.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { KvStore } from '../../../core/store'
import { B, C, T0, canDecrypt, charge, ciphertext, makeStore, record, vclock } from './_helpers'

/** The count `recordsBelowEpoch(epoch)` must give, from a scan of the store. */
function scanBelow(store: KvStore, epoch: number): number {
  let count = 0
  for (const group of Object.values(store.snapshot())) for (const r of group) if (!r.tombstone && (r.key_epoch ?? 0) < epoch) count++
  return count
}

const below = (store: KvStore) => [0, 1, 2, 3].map((epoch) => store.recordsBelowEpoch(epoch))

describe('recordsBelowEpoch: every mutation path (§6.10)', () => {
  test('behavior: put inserts and replaces (the epoch may change), delete leaves an uncounted tombstone', () => {
    const { store } = makeStore()
    store.put(1, 'a', ciphertext(1), 0, 0)
    store.put(1, 'b', ciphertext(1), 0, 1)
    store.put(2, 'c', ciphertext(1), 0, 2)
    expect(below(store)).toEqual([0, 1, 2, 3])
    store.put(1, 'a', ciphertext(2), 0, 2) // 0 → 2
    expect(below(store)).toEqual([0, 0, 1, 3])
    store.delete(1, 'b')
    expect(below(store)).toEqual([0, 0, 0, 2])
    store.put(1, 'b', ciphertext(3), 0, 0) // over the tombstone
    expect(below(store)).toEqual([0, 1, 1, 3])
  })

  test('behavior: merge and ingest count what they store, not what they skip or reject', async () => {
    const { store } = makeStore()
    store.merge(1, record({ key: 'a', keyEpoch: 1 }))
    expect(below(store)).toEqual([0, 0, 1, 1])
    store.merge(1, record({ key: 'a', keyEpoch: 0, clock: vclock({ [B]: 1 }), updatedAtMs: T0 - 1 })) // loses the tie-break
    expect(below(store)).toEqual([0, 0, 1, 1])
    store.merge(1, record({ key: 'a', tombstone: true, clock: vclock({ [B]: 5 }), updatedAtMs: T0 + 1 }))
    expect(below(store)).toEqual([0, 0, 0, 0])
    const data = {
      3: [
        { key: 'x', value: '11'.repeat(28), version: { [C]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0, key_epoch: 2 },
        { key: 'y', value: '22'.repeat(28), version: { [C]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0 },
        { key: 'z', value: 'bd'.repeat(28), version: { [C]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0 }, // undecryptable
        { key: 'w', value: '33'.repeat(28), version: { [C]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0, key_epoch: -1 }, // invalid
      ],
    }
    expect((await store.ingest(data, canDecrypt)).merged).toBe(2)
    expect(below(store)).toEqual([0, 1, 1, 2])
  })

  test('behavior: a purged expired record stops counting; before the purge it still counts (no scan)', () => {
    const { store, clock } = makeStore()
    store.put(1, 'short', ciphertext(1), 10, 0)
    store.put(1, 'long', ciphertext(1), 0, 0)
    clock.advance(11)
    expect(store.recordsBelowEpoch(1)).toBe(2) // expired, not yet purged: still held
    store.list(1) // purges
    expect(store.recordsBelowEpoch(1)).toBe(1)
  })

  test('behavior: LRU eviction by bytes and by count uncounts the evicted record', () => {
    const bytes = makeStore({ limits: { maxValueSizeBytes: 72, maxAppStorageBytes: 2 * charge(1, 100) } })
    bytes.store.put(1, 'a', ciphertext(1, 100), 0, 0)
    bytes.store.put(1, 'b', ciphertext(1, 100), 0, 1)
    bytes.store.put(1, 'c', ciphertext(1, 100), 0, 1) // evicts `a`
    expect(below(bytes.store)).toEqual([0, 0, 2, 2])
    const count = makeStore({ limits: { maxRecordsPerApp: 2 } })
    count.store.put(1, 'a', ciphertext(1), 0, 1)
    count.store.put(1, 'b', ciphertext(1), 0, 0)
    count.store.merge(1, record({ key: 'c', keyEpoch: 0, clock: vclock({ [B]: 1 }) })) // evicts `a`
    expect(below(count.store)).toEqual([0, 2, 2, 2])
  })

  test('behavior: tombstones purged past retention or over the cap change nothing; clear resets every count', () => {
    const { store, clock } = makeStore({ limits: { tombstoneRetentionMs: 5, maxTombstonesPerApp: 1 } })
    for (const key of ['a', 'b', 'c']) store.put(1, key, ciphertext(1), 0, 1)
    store.delete(1, 'a')
    store.delete(1, 'b')
    expect(below(store)).toEqual([0, 0, 1, 1])
    clock.advance(10)
    store.stats()
    expect(below(store)).toEqual([0, 0, 1, 1])
    store.clear()
    expect(below(store)).toEqual([0, 0, 0, 0])
    store.put(1, 'a', ciphertext(1), 0, 0)
    expect(below(store)).toEqual([0, 1, 1, 1])
  })

  test('error: an epoch bound outside 0..2^32 is a RangeError', () => {
    const { store } = makeStore()
    expect(store.recordsBelowEpoch(2 ** 32)).toBe(0)
    for (const epoch of [-1, 0.5, 2 ** 32 + 1, Number.NaN]) {
      expect(() => store.recordsBelowEpoch(epoch)).toThrow(RangeError)
      expect(() => store.dropRecordsBelowEpoch(epoch)).toThrow(RangeError)
    }
  })
})

type Op =
  | { kind: 'put'; app: number; key: string; epoch: number; ttl: number; size: number }
  | { kind: 'delete' | 'get'; app: number; key: string }
  | { kind: 'merge'; app: number; key: string; epoch: number; tombstone: boolean; count: number; skew: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'reencrypt'; target: number; limit: number; failEvery: number }
  | { kind: 'drop'; epoch: number }
  | { kind: 'stats' | 'clear' }

const app = fc.constantFrom(1, 2)
const key = fc.constantFrom('a', 'b', 'c', 'd', 'e')
const epoch = fc.nat({ max: 3 })
const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), app, key, epoch, ttl: fc.constantFrom(0, 0, 5), size: fc.integer({ min: 28, max: 90 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const), app, key }) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('merge' as const), app, key, epoch, tombstone: fc.boolean(), count: fc.integer({ min: 1, max: 4 }), skew: fc.integer({ min: -5, max: 5 }) }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reencrypt' as const), target: epoch, limit: fc.nat({ max: 4 }), failEvery: fc.nat({ max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), epoch }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('stats' as const, 'clear' as const) }) },
)

describe('recordsBelowEpoch against a scan', () => {
  test('property: after any sequence of operations, every count equals a scan of the store, and the charged bytes too', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { maxLength: 50 }), async (ops) => {
        // Small limits, so that eviction by bytes and by count happens.
        const { store, clock } = makeStore({ limits: { maxValueSizeBytes: 62, maxAppStorageBytes: 4 * charge(1, 90, 2), maxRecordsPerApp: 4, maxTombstonesPerApp: 2, tombstoneRetentionMs: 20 } })
        for (const [serial, op] of ops.entries()) {
          switch (op.kind) {
            case 'put':
              store.put(op.app, op.key, ciphertext(serial % 200, op.size), op.ttl, op.epoch)
              break
            case 'delete':
            case 'get':
              try {
                if (op.kind === 'delete') store.delete(op.app, op.key)
                else store.get(op.app, op.key)
              } catch {
                // not_found: nothing changes
              }
              break
            case 'merge':
              store.merge(
                op.app,
                record({
                  key: op.key,
                  ciphertext: op.tombstone ? new Uint8Array(0) : ciphertext(serial % 200, 40),
                  keyEpoch: op.tombstone ? 0 : op.epoch,
                  tombstone: op.tombstone,
                  clock: vclock({ [B]: op.count }),
                  updatedAtMs: clock.now + op.skew,
                }),
              )
              break
            case 'advance':
              clock.advance(op.ms)
              break
            case 'reencrypt': {
              let calls = 0
              await store.reencryptBatch({
                targetEpoch: op.target,
                limit: op.limit,
                reencrypt: async (_appId, r) => {
                  if (op.failEvery > 0 && ++calls % op.failEvery === 0) throw new Error('refused')
                  return ciphertext(0xee, r.ciphertext.length)
                },
              })
              break
            }
            case 'drop':
              store.dropRecordsBelowEpoch(op.epoch)
              break
            case 'stats':
              store.stats()
              break
            case 'clear':
              store.clear()
              break
          }
          // Read the counts before the snapshot purges, then compare after purging once more.
          store.stats()
          for (let bound = 0; bound <= 4; bound++) expect(store.recordsBelowEpoch(bound)).toBe(scanBelow(store, bound))
        }
      }),
      { numRuns: 300 },
    )
  })
})
