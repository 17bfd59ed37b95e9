import { describe, expect, test } from 'vitest'
import { KmsError } from '../../../core/errors'
import { KvStore } from '../../../core/store'
import { A, B, DEFAULT_LIMITS, FakeClock, T0, charge, ciphertext, makeStore, record, vclock, view } from './_helpers'

function notFound(run: () => unknown) {
  try {
    run()
  } catch (error) {
    expect(error).toBeInstanceOf(KmsError)
    return (error as KmsError).toBody()
  }
  throw new Error('expected a KmsError')
}

describe('KvStore: local put and get (§6.2)', () => {
  test('behavior: get returns the stored ciphertext byte for byte (conformance 57)', () => {
    const { store } = makeStore()
    const stored = Uint8Array.from({ length: 28 + 5 }, (_, i) => i) // a 5-byte plaintext sealed (§5.3)
    store.put(7, 'k', stored, 0)
    expect([...store.get(7, 'k').ciphertext]).toEqual([...stored])
    expect(store.stats().total_bytes).toBe(charge(1, 33)) // §6.4: key + ciphertext + overhead + one clock entry
  })

  test('behavior: put starts the clock at {self:1}, stamps now_ms and keeps the TTL', () => {
    const { store } = makeStore()
    const written = store.put(1, 'k', ciphertext(1), 500)
    expect(view(written)).toEqual({ key: 'k', ciphertext: [...ciphertext(1)], clock: { [A]: 1 }, updatedAtMs: T0, tombstone: false, ttlMs: 500 })
    expect(view(store.get(1, 'k'))).toEqual(view(written))
  })

  test('behavior: a put increments the stored clock, tombstone included', () => {
    const { store } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    expect(view(store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 2 })
    expect(view(store.delete(1, 'k'))?.clock).toEqual({ [A]: 3 })
    expect(view(store.put(1, 'k', ciphertext(3), 0))?.clock).toEqual({ [A]: 4 })
  })

  test('behavior: a put copies the clock of an expired record that is not purged yet', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 10)
    clock.advance(11)
    expect(view(store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 2 })
  })

  test('behavior: once a read has purged the expired record, a put starts from {}', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 10)
    clock.advance(11)
    expect(store.list(1)).toEqual([])
    expect(view(store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 1 })
  })

  test('behavior: a local put after a merge increments the merged clock (conformance 70)', async () => {
    const { store } = makeStore({ wallet: A })
    store.put(1, 'k', ciphertext(1), 0)
    store.merge(1, record({ clock: vclock({ [B]: 1 }), updatedAtMs: T0 + 1, ciphertext: ciphertext(2) }))
    expect(view(store.get(1, 'k'))?.clock).toEqual({ [A]: 1, [B]: 1 })
    expect(view(store.put(1, 'k', ciphertext(3), 0))?.clock).toEqual({ [A]: 2, [B]: 1 })
  })

  test('behavior: apps are separate namespaces (conformance 63)', () => {
    const { store } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    expect(notFound(() => store.get(2, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
    expect(store.list(2)).toEqual([])
  })

  test('error: an absent key is 404 Key not found: <key>', () => {
    const { store } = makeStore()
    expect(notFound(() => store.get(1, 'nope'))).toMatchInlineSnapshot(`
      {
        "code": "not_found",
        "message": "Key not found: nope",
      }
    `)
    store.put(1, 'other', ciphertext(1), 0)
    expect(notFound(() => store.get(1, 'a/b c'))).toEqual({ code: 'not_found', message: 'Key not found: a/b c' })
  })

  test('error: put refuses values the caller should have refused (28..max+28 bytes, §5.3)', () => {
    const { store } = makeStore({ limits: { maxValueSizeBytes: 100, maxAppStorageBytes: 1000 } })
    expect(() => store.put(1, 'k', ciphertext(1, 129), 0)).toThrow(RangeError)
    expect(() => store.put(1, 'k', ciphertext(1, 27), 0)).toThrow(RangeError)
    expect(() => store.put(1, 'k', ciphertext(1, 128), 0)).not.toThrow()
    expect(store.list(1)).toEqual(['k'])
  })

  test('error: put refuses an invalid key, TTL or app id', () => {
    const { store } = makeStore()
    expect(() => store.put(1, '', ciphertext(1), 0)).toThrow(RangeError)
    expect(() => store.put(1, 'é'.repeat(513), ciphertext(1), 0)).toThrow(RangeError)
    expect(() => store.put(1, 'é'.repeat(512), ciphertext(1), 0)).not.toThrow()
    expect(() => store.put(1, 'k', ciphertext(1), -1)).toThrow(RangeError)
    expect(() => store.put(1, 'k', ciphertext(1), 1.5)).toThrow(RangeError)
    expect(() => store.put(0, 'k', ciphertext(1), 0)).toThrow(RangeError)
    expect(() => store.get(Number.NaN, 'k')).toThrow(RangeError)
  })

  test('error: the constructor refuses limits that are not safe integers ≥ 0, or too small for one value', () => {
    const build = (limits: Partial<typeof DEFAULT_LIMITS>) => () =>
      new KvStore({ clock: new FakeClock(), nodeWallet: () => A, limits: { ...DEFAULT_LIMITS, ...limits } })
    expect(build({ maxClockSkewMs: -1 })).toThrow(RangeError)
    expect(build({ tombstoneRetentionMs: 0.5 })).toThrow(RangeError)
    expect(build({ maxValueSizeBytes: 100, maxAppStorageBytes: 127 })).toThrow(RangeError)
    expect(build({ maxValueSizeBytes: 100, maxAppStorageBytes: 128 })).not.toThrow()
  })
})

// Deviation from §6.2 (README): §6.2 stamps every local write `now_ms`. A write that
// supersedes a record is stamped max(now_ms, previous updated_at_ms + 1), so that it can never
// lose the §6.6 tie-break to its own predecessor once that predecessor's clock has been merged.
describe('KvStore: write timestamps (deviation from §6.2, README)', () => {
  test('behavior: a second put in the same millisecond is stamped first + 1, a third first + 2', () => {
    const { store } = makeStore()
    expect([1, 2, 3].map((fill) => store.put(1, 'k', ciphertext(fill), 0).updatedAtMs)).toEqual([T0, T0 + 1, T0 + 2])
    expect(store.put(1, 'other', ciphertext(1), 0).updatedAtMs).toBe(T0) // only the key's own record counts
    expect(store.get(1, 'k').updatedAtMs).toBe(T0 + 2)
  })

  test('behavior: once the clock has passed the previous record, a write is stamped now_ms again', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    store.put(1, 'k', ciphertext(2), 0) // T0 + 1
    clock.advance(1)
    expect(store.put(1, 'k', ciphertext(3), 0).updatedAtMs).toBe(T0 + 2)
    clock.advance(10)
    expect(store.put(1, 'k', ciphertext(4), 0).updatedAtMs).toBe(T0 + 11)
    expect(store.delete(1, 'k').updatedAtMs).toBe(T0 + 12)
  })

  test('behavior: a delete, and a put over the tombstone, in the same millisecond each come 1 ms later', () => {
    const { store } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    expect(view(store.delete(1, 'k'))).toMatchObject({ updatedAtMs: T0 + 1, clock: { [A]: 2 }, tombstone: true })
    expect(view(store.put(1, 'k', ciphertext(2), 0))).toMatchObject({ updatedAtMs: T0 + 2, clock: { [A]: 3 } })
  })

  test('behavior: a write over a merged record stamped ahead of now (within MAX_CLOCK_SKEW_MS) comes after it', () => {
    const { store } = makeStore()
    store.merge(1, record({ clock: vclock({ [B]: 1 }), updatedAtMs: T0 + 5_000 }))
    expect(view(store.put(1, 'k', ciphertext(2), 0))).toMatchObject({ updatedAtMs: T0 + 5_001, clock: { [A]: 1, [B]: 1 } })
    expect(store.delete(1, 'k').updatedAtMs).toBe(T0 + 5_002)
  })

  test('behavior: the record of an unpurged expired value counts, and is always older than now', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 10)
    clock.advance(11)
    expect(view(store.put(1, 'k', ciphertext(2), 0))).toMatchObject({ updatedAtMs: T0 + 11, clock: { [A]: 2 } })
  })
})

describe('KvStore: the node wallet (§6.2, §7.1 step 1)', () => {
  test('behavior: local writes use the wallet current at the time of the write', () => {
    let wallet: typeof A | undefined = A
    const store = new KvStore({ clock: new FakeClock(), nodeWallet: () => wallet, limits: DEFAULT_LIMITS })
    store.put(1, 'k', ciphertext(1), 0)
    wallet = B
    expect(view(store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 1, [B]: 1 })
    expect(view(store.delete(1, 'k'))?.clock).toEqual({ [A]: 1, [B]: 2 })
  })

  test('error: without a wallet, local writes are 503 and nothing is stored', () => {
    let wallet: typeof A | undefined
    const store = new KvStore({ clock: new FakeClock(), nodeWallet: () => wallet, limits: DEFAULT_LIMITS })
    const refused = (run: () => unknown) => {
      try {
        run()
      } catch (error) {
        return (error as KmsError).toBody()
      }
      return undefined
    }
    expect(refused(() => store.put(1, 'k', ciphertext(1), 0))).toEqual({ code: 'service_unavailable', message: 'cannot read node wallet' })
    wallet = A
    store.put(1, 'k', ciphertext(1), 0)
    wallet = undefined
    expect(refused(() => store.delete(1, 'k'))).toEqual({ code: 'service_unavailable', message: 'cannot read node wallet' })
    expect(store.list(1)).toEqual(['k'])
  })
})

describe('KvStore: TTL (§6.1)', () => {
  test('behavior: a record expires strictly after updated_at_ms + ttl_ms and reads as 404 (conformance 61)', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 1000)
    clock.advance(1000)
    expect(store.get(1, 'k').ttlMs).toBe(1000)
    clock.advance(1)
    expect(notFound(() => store.get(1, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
  })

  test('behavior: the expired record is purged on access without a tombstone, and leaves snapshots', () => {
    const { store, clock } = makeStore()
    store.put(1, 'short', ciphertext(1), 10)
    store.put(1, 'long', ciphertext(2), 0)
    expect(store.snapshot()['1']?.map((r) => r.key)).toEqual(['long', 'short'])
    clock.advance(11)
    expect(store.snapshot()['1']?.map((r) => r.key)).toEqual(['long'])
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 1, total_bytes: charge(4, 28) })
  })

  test('behavior: ttl_ms 0 never expires', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 0)
    clock.advance(10 * 365 * 86_400_000)
    expect(store.list(1)).toEqual(['k'])
  })
})

describe('KvStore: list (§2.5)', () => {
  test('behavior: live keys sorted by code point, without tombstones or expired records (conformance 60)', () => {
    const { store, clock } = makeStore()
    for (const key of ['b', '\u{1F600}', '\uFFFF', 'a', 'gone', 'dead']) store.put(1, key, ciphertext(1), key === 'gone' ? 5 : 0)
    store.delete(1, 'dead')
    clock.advance(6)
    expect(store.list(1)).toEqual(['a', 'b', '\uFFFF', '\u{1F600}'])
  })
})

describe('KvStore: delete (§6.2)', () => {
  test('behavior: a delete leaves a tombstone; a second delete is 404 (conformance 62)', () => {
    const { store, clock } = makeStore()
    store.put(1, 'k', ciphertext(1), 99)
    clock.advance(3)
    const tombstone = store.delete(1, 'k')
    expect(view(tombstone)).toEqual({ key: 'k', ciphertext: [], clock: { [A]: 2 }, updatedAtMs: T0 + 3, tombstone: true, ttlMs: 0 })
    expect(notFound(() => store.delete(1, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
    expect(notFound(() => store.get(1, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
    expect(store.snapshot()['1']?.[0]).toMatchObject({ key: 'k', tombstone: true, value: null })
  })

  test('error: deleting an absent or expired key is 404', () => {
    const { store, clock } = makeStore()
    expect(notFound(() => store.delete(1, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
    store.put(1, 'k', ciphertext(1), 5)
    clock.advance(6)
    expect(notFound(() => store.delete(1, 'k'))).toEqual({ code: 'not_found', message: 'Key not found: k' })
  })
})

describe('KvStore: statistics and clear', () => {
  test('behavior: stats count namespaces, live keys and the charged bytes of every record, tombstones included (§6.4)', () => {
    const { store } = makeStore()
    store.put(1, 'a', ciphertext(1, 30), 0)
    store.put(1, 'b', ciphertext(1, 40), 0)
    store.put(2, 'a', ciphertext(1, 50), 0)
    store.delete(1, 'b')
    expect(store.stats()).toEqual({ namespaces: 2, total_keys: 2, total_bytes: charge(1, 30) + charge(1, 0) + charge(1, 50) })
  })

  test('behavior: a namespace whose records are all purged is no longer counted', () => {
    const { store, clock } = makeStore()
    store.put(3, 'a', ciphertext(1), 1)
    clock.advance(2)
    expect(store.stats()).toEqual({ namespaces: 0, total_keys: 0, total_bytes: 0 })
  })

  test('behavior: clear drops every record of every app (§7.1 step 7)', () => {
    const { store } = makeStore()
    store.put(1, 'a', ciphertext(1), 0)
    store.put(2, 'a', ciphertext(1), 0)
    store.delete(2, 'a')
    store.clear()
    expect(store.stats()).toEqual({ namespaces: 0, total_keys: 0, total_bytes: 0 })
    expect(store.snapshot()).toEqual({})
  })
})
