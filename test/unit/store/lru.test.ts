import { describe, expect, test } from 'vitest'
import type { KvStore } from '../../../core/store'
import { A, B, T0, canDecrypt, charge, ciphertext, makeStore, record, vclock, view } from './_helpers'

// Three 100-byte values under one-character keys, and one tombstone, fit; a fourth value forces
// one eviction (§6.4: a record is charged key + ciphertext + overhead + clock entries).
const VALUE = charge(1, 100)
const TOMBSTONE = charge(1, 0)
const small = () => makeStore({ limits: { maxValueSizeBytes: 72, maxAppStorageBytes: 3 * VALUE + TOMBSTONE } })
const value = (fill: number) => ciphertext(fill, 100)
const held = (store: KvStore) => (store.snapshot()['1'] ?? []).map((r) => r.key)

function fill(store: KvStore, keys: string[]) {
  for (const key of keys) store.put(1, key, value(1), 0)
}

describe('true LRU (§6.4, conformance 64)', () => {
  test('behavior: the least recently written record goes first, without a tombstone', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c', 'd'])
    expect(held(store)).toEqual(['b', 'c', 'd'])
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 3, total_bytes: 3 * VALUE })
    expect(view(store.put(1, 'a', value(2), 0))?.clock).toEqual({ [A]: 1 }) // no clock survives
  })

  test('behavior: a single-key read refreshes recency', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    store.get(1, 'a')
    fill(store, ['d'])
    expect(held(store)).toEqual(['a', 'c', 'd'])
  })

  test('behavior: a failed read refreshes nothing', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    expect(() => store.get(1, 'zzz')).toThrow()
    fill(store, ['d'])
    expect(held(store)).toEqual(['b', 'c', 'd'])
  })

  test('behavior: lists, deltas, snapshots and statistics do not refresh recency', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    store.list(1)
    store.selectDelta(0)
    store.snapshot()
    store.stats()
    fill(store, ['d'])
    expect(held(store)).toEqual(['b', 'c', 'd'])
  })

  test('behavior: a local put refreshes recency', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c', 'a', 'd'])
    expect(held(store)).toEqual(['a', 'c', 'd'])
  })

  test('behavior: a merge that replaces refreshes recency; one that is ignored does not', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    expect(store.merge(1, record({ key: 'a', ciphertext: value(3), clock: vclock({ [A]: 2 }) }))).toBe('replaced_by_version')
    // A copy of what 'b' holds: an equal clock with a different value would now go through the
    // tie-break (deviation from §6.6, README), and this test is about the ignored case.
    expect(store.merge(1, record({ key: 'b', ciphertext: value(1), clock: vclock({ [A]: 1 }) }))).toBe('ignored_equal_version')
    fill(store, ['d'])
    expect(held(store)).toEqual(['a', 'c', 'd'])
  })

  test('behavior: a merge that inserts refreshes recency and can evict', async () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    const wire = { key: 'm', value: '11'.repeat(100), version: { [B]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0 }
    expect(await store.ingest({ 1: [wire] }, canDecrypt)).toMatchObject({ merged: 1 })
    expect(held(store)).toEqual(['b', 'c', 'm'])
    fill(store, ['d'])
    expect(held(store)).toEqual(['c', 'd', 'm'])
  })

  test('behavior: a tombstone is not evicted while a live record can go, and is charged its key and overhead', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    store.delete(1, 'a') // a delete is the newest write, but its tombstone is not a candidate
    fill(store, ['d'])
    expect(held(store)).toEqual(['a', 'b', 'c', 'd'])
    fill(store, ['e'])
    expect(held(store)).toEqual(['a', 'c', 'd', 'e'])
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 3, total_bytes: 3 * VALUE + TOMBSTONE })
  })

  test('behavior: a larger write evicts as many records as it needs, oldest first', () => {
    // Four small records fill the namespace; 'big' alone fits, but not beside any of them.
    const { store } = makeStore({ limits: { maxValueSizeBytes: 2800, maxAppStorageBytes: 4 * charge(1, 30) } })
    expect(charge(3, 2800)).toBeLessThanOrEqual(4 * charge(1, 30))
    expect(charge(3, 2800) + charge(1, 30)).toBeGreaterThan(4 * charge(1, 30))
    for (const key of ['a', 'b', 'c', 'd']) store.put(1, key, ciphertext(1, 30), 0)
    store.get(1, 'a')
    store.put(1, 'big', ciphertext(1, 2800), 0)
    expect(held(store)).toEqual(['big'])
    store.put(1, 'e', ciphertext(1, 30), 0) // 'big' is now the least recently used
    expect(held(store)).toEqual(['e'])
  })

  test('behavior: namespaces are limited separately', () => {
    const { store } = small()
    fill(store, ['a', 'b', 'c'])
    store.put(2, 'x', value(1), 0)
    expect(store.stats()).toEqual({ namespaces: 2, total_keys: 4, total_bytes: 4 * VALUE })
  })

  test('behavior: past 10 MiB the least recently read or written record goes (§11 defaults)', () => {
    const { store } = makeStore()
    const max = ciphertext(7, 1_048_576 + 28)
    for (let index = 0; index < 10; index++) store.put(1, `k${index}`, max, 0)
    expect(store.list(1)).toEqual(['k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'])
    store.get(1, 'k1')
    store.put(1, 'k10', max, 0)
    expect(store.list(1)).toEqual(['k1', 'k10', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8', 'k9'])
    expect(store.stats().total_bytes).toBeLessThanOrEqual(10_485_760)
  })
})
