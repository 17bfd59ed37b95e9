import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { canonicalJson, utf8Length } from '../../../core/encoding'
import { splitDelta, toWireRecord, type WireData, type WireRecord } from '../../../core/store'
import { A, B, T0, canDecrypt, ciphertext, makeStore, record, vclock } from './_helpers'

describe('toWireRecord (§4.3)', () => {
  test('vector: a value is lowercase hex without 0x; a tombstone has value null', () => {
    const value = record({ ciphertext: Uint8Array.from({ length: 28 }, (_, i) => 0xf0 + (i % 16)), clock: vclock({ [A]: 2, [B]: 1 }), ttlMs: 9 })
    expect(canonicalJson(toWireRecord(value))).toBe(
      `{"key":"k","tombstone":false,"ttl_ms":9,"updated_at_ms":${T0},"value":"${'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff'.repeat(2).slice(0, 56)}","version":{"${A}":2,"${B}":1}}`,
    )
    expect(toWireRecord(record({ tombstone: true }))).toEqual({
      key: 'k',
      value: null,
      version: { [A]: 1 },
      updated_at_ms: T0,
      tombstone: true,
      ttl_ms: 0,
    })
  })
})

describe('selectDelta (§6.8 step 2)', () => {
  test('behavior: selects since < updated_at_ms ≤ now, tombstones included, grouped by app', () => {
    const { store, clock } = makeStore()
    store.put(1, 'old', ciphertext(1), 0) // T0
    clock.advance(10)
    store.put(1, 'edge', ciphertext(1), 0) // T0+10
    store.put(2, 'x', ciphertext(1), 0)
    clock.advance(4)
    store.put(1, 'gone', ciphertext(1), 0)
    clock.advance(1) // a delete in the put's millisecond would be stamped T0+16 (README deviation)
    store.delete(1, 'gone') // tombstone at T0+15
    store.merge(1, record({ key: 'future', updatedAtMs: T0 + 16, clock: vclock({ [B]: 1 }) }))
    const delta = store.selectDelta(T0 + 9)
    expect(Object.keys(delta)).toEqual(['1', '2'])
    expect(delta['1']?.map((r) => [r.key, r.tombstone])).toEqual([
      ['edge', false],
      ['gone', true],
    ])
    expect(store.selectDelta(T0 + 10)['1']?.map((r) => r.key)).toEqual(['gone'])
    expect(store.selectDelta(T0 + 15)).toEqual({})
  })

  test('behavior: a write stamped ahead of now (README deviation from §6.2) leaves with the first push that reaches its time', () => {
    const { store, clock } = makeStore()
    for (const fill of [1, 2, 3]) store.put(1, 'k', ciphertext(fill), 0) // stamped T0, T0+1, T0+2
    let lastPushMs = 0
    const pushes: [number, string | null | undefined][] = []
    for (let step = 0; step < 4; step++) {
      const since = Math.max(lastPushMs - 1, 0) // §6.8 step 1
      lastPushMs = clock.now
      pushes.push([clock.now - T0, store.selectDelta(since)['1']?.[0]?.value])
      clock.advance(1)
    }
    // Not lost, but late: nothing leaves until now reaches T0+2, and then the latest version does.
    expect(pushes).toEqual([
      [0, undefined],
      [1, undefined],
      [2, '03'.repeat(28)],
      [3, '03'.repeat(28)],
    ])
  })

  test('behavior: purges first, so an expired record is not sent', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 3)
    clock.advance(4)
    expect(store.selectDelta(0)).toEqual({})
  })
})

describe('snapshot (§4.3)', () => {
  test('behavior: every record after purging, tombstones included (conformance 80)', () => {
    const { store, clock } = makeStore()
    store.put(1, 'b', ciphertext(2), 0)
    store.put(1, 'a', ciphertext(1), 0)
    clock.advance(1) // the tombstone is stamped now, T0 + 1
    store.delete(1, 'a')
    store.put(3, 'ttl', ciphertext(1), 1)
    clock.advance(2)
    expect(store.snapshot()).toEqual({
      '1': [
        { key: 'a', value: null, version: { [A]: 2 }, updated_at_ms: T0 + 1, tombstone: true, ttl_ms: 0 },
        { key: 'b', value: '02'.repeat(28), version: { [A]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0 },
      ],
    })
  })

  test('behavior: a snapshot ingested by an empty node reproduces it exactly', async () => {
    const { store, clock } = makeStore()
    store.put(1, 'a', ciphertext(1), 0)
    store.put(1, 'b', ciphertext(2), 60_000)
    store.delete(1, 'a')
    store.put(12, '\u{1F600}/x', ciphertext(3, 40), 0)
    const snapshot = store.snapshot()
    const other = makeStore({ wallet: B, clock }).store
    expect(await other.ingest(JSON.parse(JSON.stringify(snapshot)), canDecrypt)).toMatchObject({ total: 3, merged: 3 })
    expect(other.snapshot()).toEqual(snapshot)
  })
})

const wireRecord = (key: string, valueBytes: number): WireRecord => ({
  key,
  value: '00'.repeat(valueBytes),
  version: { [A]: 1 },
  updated_at_ms: T0,
  tombstone: false,
  ttl_ms: 0,
})
const size = (value: unknown) => utf8Length(canonicalJson(value))
const flatten = (parts: WireData[]) => parts.flatMap((part) => Object.entries(part).flatMap(([app, records]) => records.map((r) => [app, r.key])))

describe('splitDelta (§6.8 step 3)', () => {
  test('behavior: everything that fits stays in one body', () => {
    const data = { '1': [wireRecord('a', 28)], '2': [wireRecord('b', 28)] }
    expect(splitDelta(data, size(data))).toEqual([data])
    expect(splitDelta({}, 100)).toEqual([])
    expect(splitDelta({ '1': [] }, 100)).toEqual([])
  })

  test('behavior: splits by app first, keeping a group whole when it fits a body', () => {
    const one = { '1': [wireRecord('a', 28), wireRecord('b', 28)] }
    const two = { '2': [wireRecord('c', 28), wireRecord('d', 28)] }
    const parts = splitDelta({ ...one, ...two }, size(two) + 1)
    expect(parts).toEqual([one, two])
  })

  test('behavior: then by records, filling each body exactly to the budget', () => {
    const records = ['a', 'b', 'c', 'd', 'e'].map((key) => wireRecord(key, 28))
    const budget = size({ '7': records.slice(0, 2) })
    const parts = splitDelta({ '7': records }, budget)
    expect(parts).toEqual([{ '7': records.slice(0, 2) }, { '7': records.slice(2, 4) }, { '7': records.slice(4) }])
    for (const part of parts) expect(size(part)).toBeLessThanOrEqual(budget)
  })

  test('behavior: a record larger than the budget travels alone', () => {
    const big = wireRecord('big', 500)
    const parts = splitDelta({ '1': [wireRecord('a', 28), big, wireRecord('b', 28)] }, 200)
    expect(parts).toEqual([{ '1': [wireRecord('a', 28)] }, { '1': [big] }, { '1': [wireRecord('b', 28)] }])
  })

  const arbData = fc.dictionary(
    fc.integer({ min: 1, max: 30 }).map(String),
    fc.array(
      fc.record({ key: fc.string({ minLength: 1, maxLength: 6, unit: 'grapheme' }), bytes: fc.integer({ min: 28, max: 60 }) }).map(({ key, bytes }) => wireRecord(key, bytes)),
      { maxLength: 6 },
    ),
    { maxKeys: 5 },
  )

  test('property: every body fits unless it is one oversized record, and nothing is lost or reordered', () => {
    fc.assert(
      fc.property(arbData, fc.integer({ min: 2, max: 1500 }), (data, budget) => {
        const parts = splitDelta(data, budget)
        for (const part of parts) {
          const records = Object.values(part).flat()
          expect(records.length).toBeGreaterThan(0)
          if (records.length > 1) expect(size(part)).toBeLessThanOrEqual(budget)
        }
        expect(flatten(parts)).toEqual(flatten([data]))
        if (size(data) <= budget) expect(parts.length).toBeLessThanOrEqual(1)
      }),
    )
  })
})
