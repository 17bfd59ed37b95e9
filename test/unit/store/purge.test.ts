import { describe, expect, test } from 'vitest'
import type { KvStore } from '../../../core/store'
import { A, B, T0, canDecrypt, ciphertext, makeStore, record, vclock, view } from './_helpers'

const DAY = 86_400_000

/** The keys the next snapshot holds for app 1, tombstones included. */
const keys = (store: KvStore) => (store.snapshot()['1'] ?? []).map((r) => r.key)

describe('purge: tombstones (§6.3, conformance 65)', () => {
  test('behavior: a tombstone is kept for less than TOMBSTONE_RETENTION_MS and dropped at it', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    clock.advance(1) // so that the tombstone is stamped now (T0 + 1), not 1 ms after the put
    store.delete(1, 'k')
    clock.advance(DAY - 1)
    expect(keys(store)).toEqual(['k'])
    clock.advance(1)
    expect(keys(store)).toEqual([])
    expect(store.stats().namespaces).toBe(0)
  })

  test('behavior: past the cap, the oldest by (updated_at_ms, key) go first, keys by code point', () => {
    const { store } = makeStore({ limits: { maxTombstonesPerApp: 3 } })
    const tombstone = (key: string, at: number) => record({ key, tombstone: true, updatedAtMs: T0 + at, clock: vclock({ [B]: 1 }) })
    store.merge(1, tombstone('z', 0))
    store.merge(1, tombstone('\u{1F600}', 1))
    store.merge(1, tombstone('\uFFFF', 1))
    store.merge(1, tombstone('a', 2))
    store.merge(1, tombstone('b', 3))
    store.put(1, 'live', ciphertext(1), 0) // live records never count against the cap
    expect(keys(store)).toEqual(['a', 'b', 'live', '\u{1F600}'])
  })

  test('behavior: at most 10000 tombstones remain with the default limit', () => {
    const { store } = makeStore()
    const total = 10_005
    // Newest first, so that arrival order cannot stand in for age.
    for (let index = total - 1; index >= 0; index--) {
      store.merge(1, record({ key: `t${index}`, tombstone: true, updatedAtMs: T0 - DAY / 2 + index, clock: vclock({ [B]: 1 }) }))
    }
    const kept = keys(store)
    expect(kept).toHaveLength(10_000)
    for (let index = 0; index < 5; index++) expect(kept).not.toContain(`t${index}`)
    expect(kept).toContain('t5')
  })

  test('behavior: merges do not purge; the cap holds again at the next purge', () => {
    const { store } = makeStore({ limits: { maxTombstonesPerApp: 1 } })
    for (const key of ['a', 'b', 'c']) store.merge(1, record({ key, tombstone: true, clock: vclock({ [B]: 1 }) }))
    // A put over a tombstone copies its clock (§6.2): 'a' is still held before any purge.
    expect(view(store.put(1, 'a', ciphertext(1), 0))?.clock).toEqual({ [A]: 1, [B]: 1 })
    expect(keys(store)).toEqual(['a', 'c'])
  })
})

describe('purge: when it runs (§6.3)', () => {
  // An expired record that is still held lends its clock to the next put (§6.2); a purged
  // one does not. That makes each call's purge visible.
  const purgeRuns = async (call: (store: KvStore) => unknown): Promise<boolean> => {
    const { store, clock } = makeStore()
    store.put(1, 'x', ciphertext(1), 1)
    clock.advance(2)
    try {
      await call(store)
    } catch {
      // get and delete of the other key are 404s; only the purge matters here.
    }
    return store.put(1, 'x', ciphertext(2), 0).clock.get(A) === 1
  }

  test.each([
    ['get', (s: KvStore) => s.get(1, 'other')],
    ['list', (s: KvStore) => s.list(1)],
    ['delete', (s: KvStore) => s.delete(1, 'other')],
    ['selectDelta', (s: KvStore) => s.selectDelta(0)],
    ['snapshot', (s: KvStore) => s.snapshot()],
    ['stats', (s: KvStore) => s.stats()],
  ])('behavior: %s purges first', async (_name, call) => {
    expect(await purgeRuns(call)).toBe(true)
  })

  test.each([
    ['put', (s: KvStore) => s.put(1, 'other', ciphertext(1), 0)],
    ['merge', (s: KvStore) => s.merge(1, record({ key: 'other', clock: vclock({ [B]: 1 }) }))],
    ['ingest', (s: KvStore) => s.ingest({ 1: [] }, canDecrypt)],
  ])('behavior: %s does not purge', async (_name, call) => {
    expect(await purgeRuns(call)).toBe(false)
  })

  test('behavior: an expired tombstone from a peer is purged as expired', () => {
    const { store, clock } = makeStore()
    store.merge(1, record({ tombstone: true, ttlMs: 5, clock: vclock({ [B]: 1 }) }))
    clock.advance(5)
    expect(keys(store)).toEqual(['k'])
    clock.advance(1)
    expect(keys(store)).toEqual([])
  })

  test('behavior: rewriting a TTL key many times purges only the current version', () => {
    const { store, clock } = makeStore()
    for (let index = 0; index < 1000; index++) {
      store.put(1, 'k', ciphertext(1), 1000 - index) // each new version expires sooner than the last
      clock.advance(1)
    }
    expect(keys(store)).toEqual(['k']) // written at +999 with ttl 1, now +1000
    clock.advance(1)
    expect(keys(store)).toEqual([])
  })
})
