/**
 * §6.4 storage accounting (issue 12, M1): every record is charged its key bytes, its
 * ciphertext, RECORD_OVERHEAD_BYTES and CLOCK_ENTRY_BYTES per clock entry, tombstones
 * included, and a namespace holds at most MAX_RECORDS_PER_APP records.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { Wallet } from '../../../core/encoding'
import { CLOCK_ENTRY_BYTES, DEFAULT_MAX_RECORDS_PER_APP, KvStore, RECORD_OVERHEAD_BYTES, chargedBytes, keyBytes, type WireRecord } from '../../../core/store'
import { A, B, C, DEFAULT_LIMITS, FakeClock, T0, canDecrypt, charge, ciphertext, makeStore, record, vclock } from './_helpers'

const MIB = 1_048_576
const held = (store: KvStore, app = 1) => (store.snapshot()[String(app)] ?? []).map((r) => r.key)

/** A record's charge computed from its wire form, independently of the store's code. */
function wireCharge(wire: WireRecord): number {
  return keyBytes(wire.key) + (wire.value === null ? 0 : wire.value.length / 2) + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * Object.keys(wire.version).length
}

function wireRecord(key: string, fields: Partial<WireRecord> = {}): WireRecord {
  return { key, value: '01'.repeat(28), version: { [B]: 1 }, updated_at_ms: T0, tombstone: false, ttl_ms: 0, ...fields }
}

describe('the charge of a record (§6.4)', () => {
  test('behavior: the protocol constants are the measured ones (bench/recordOverhead.ts)', () => {
    expect(RECORD_OVERHEAD_BYTES).toBe(768)
    expect(CLOCK_ENTRY_BYTES).toBe(128)
    expect(DEFAULT_MAX_RECORDS_PER_APP).toBe(50_000)
  })

  test('behavior: key bytes + ciphertext + 768 + 128 per clock entry, in exact figures', () => {
    const { store } = makeStore()
    store.put(1, 'k', ciphertext(1), 0) // an empty plaintext: 28 bytes
    expect(store.stats().total_bytes).toBe(1 + 28 + 768 + 128)
    store.put(2, 'x'.repeat(1024), ciphertext(1), 0)
    expect(store.stats().total_bytes).toBe(925 + 1948)
    store.put(3, 'k', ciphertext(1, 1028), 0)
    expect(store.stats().total_bytes).toBe(925 + 1948 + 1 + 1028 + 896)
  })

  test('behavior: key bytes are UTF-8 bytes, or twice the UTF-16 length for a key held as UTF-16', () => {
    expect(keyBytes('k')).toBe(1)
    expect(keyBytes('é')).toBe(2) // Latin-1: one byte in memory, two in UTF-8
    expect(keyBytes('\u{1F600}')).toBe(4) // two UTF-16 units, four UTF-8 bytes
    expect(keyBytes('€')).toBe(3)
    // One character above U+00FF makes the engine hold all 1023 units as UTF-16: 2046 bytes.
    const wide = 'ā' + 'x'.repeat(1022)
    expect(new TextEncoder().encode(wide).length).toBe(1024)
    expect(keyBytes(wide)).toBe(2046)
    const { store } = makeStore()
    store.put(1, wide, ciphertext(1), 0)
    expect(store.stats().total_bytes).toBe(2046 + 28 + 896)
  })

  test('behavior: a tombstone is charged its key, the overhead and its clock; a replace is charged once', () => {
    const { store } = makeStore()
    store.put(1, 'abc', ciphertext(1, 40), 0)
    store.put(1, 'abc', ciphertext(1, 50), 0)
    expect(store.stats().total_bytes).toBe(3 + 50 + 896)
    store.delete(1, 'abc')
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 0, total_bytes: 3 + 768 + 128 })
  })

  test('behavior: every clock entry is charged, whoever wrote it', () => {
    const { store } = makeStore()
    store.merge(1, record({ key: 'k', clock: vclock({ [A]: 1, [B]: 7, [C]: 2 }) }))
    expect(store.stats().total_bytes).toBe(1 + 28 + 768 + 3 * 128)
    store.merge(1, record({ key: 'e', clock: vclock({}) })) // an empty clock is a valid wire version
    expect(store.stats().total_bytes).toBe(1 + 28 + 768 + 3 * 128 + 1 + 28 + 768)
  })

  test('behavior: an expired record is charged until it is purged', () => {
    const { store, clock } = makeStore()
    const stored = store.put(1, 'k', ciphertext(1), 5)
    expect(chargedBytes(stored)).toBe(925)
    clock.advance(6)
    // Not purged yet: a put over it copies its clock (§6.2) and is charged once.
    store.put(1, 'j', ciphertext(1), 0)
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 1, total_bytes: 925 })
  })
})

describe('the byte cap counts every record (§6.4)', () => {
  test('behavior: tombstones fill the namespace too, and go oldest first once no live record is left', () => {
    // Room for three tombstones of one-character keys.
    const { store } = makeStore({ limits: { maxValueSizeBytes: 100, maxAppStorageBytes: 3 * charge(1, 0) } })
    const tombstone = (key: string, at: number) => record({ key, tombstone: true, updatedAtMs: T0 + at, clock: vclock({ [B]: 1 }) })
    store.put(1, 'v', ciphertext(1), 0)
    store.merge(1, tombstone('a', 3))
    store.merge(1, tombstone('b', 1)) // over the cap: the live record goes first
    expect(held(store)).toEqual(['a', 'b'])
    store.merge(1, tombstone('c', 2))
    store.merge(1, tombstone('d', 4)) // the oldest tombstone, 'b' (T0 + 1), makes room
    expect(held(store)).toEqual(['a', 'c', 'd'])
    store.merge(1, tombstone('e', 0)) // the oldest itself is never the one to go: 'c' does
    expect(held(store)).toEqual(['a', 'd', 'e'])
    expect(store.stats().total_bytes).toBe(3 * charge(1, 0))
  })
})

describe('MAX_RECORDS_PER_APP (§6.4)', () => {
  const capped = (maxRecordsPerApp: number) => makeStore({ limits: { maxRecordsPerApp } })

  test('behavior: past the cap the least recently used live record goes, as under the byte cap', () => {
    const { store } = capped(3)
    for (const key of ['a', 'b', 'c']) store.put(1, key, ciphertext(1), 0)
    store.get(1, 'a')
    store.put(1, 'd', ciphertext(1), 0)
    expect(held(store)).toEqual(['a', 'c', 'd'])
    store.merge(1, record({ key: 'm', clock: vclock({ [B]: 1 }) })) // a merge that inserts counts too
    expect(held(store)).toEqual(['a', 'd', 'm'])
    expect(store.stats().total_keys).toBe(3)
  })

  test('behavior: tombstones count against the cap; a live record goes before them', () => {
    const { store } = capped(3)
    for (const key of ['a', 'b', 'c']) store.put(1, key, ciphertext(1), 0)
    store.delete(1, 'a') // the namespace still holds three records
    store.put(1, 'd', ciphertext(1), 0)
    expect(held(store)).toEqual(['a', 'c', 'd'])
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 2, total_bytes: charge(1, 0) + 2 * charge(1, 28) })
  })

  test('behavior: the record just written never goes, even when it is alone at the cap', () => {
    const { store } = capped(1)
    store.put(1, 'a', ciphertext(1), 0)
    store.put(1, 'b', ciphertext(1), 0)
    expect(held(store)).toEqual(['b'])
    store.merge(1, record({ key: 't', tombstone: true, clock: vclock({ [B]: 1 }), updatedAtMs: T0 - 1 }))
    expect(held(store)).toEqual(['t'])
  })

  test('behavior: namespaces are capped separately, and the default is 50 000', () => {
    const { store } = capped(2)
    for (const key of ['a', 'b', 'c']) store.put(1, key, ciphertext(1), 0)
    for (const key of ['a', 'b']) store.put(2, key, ciphertext(1), 0)
    expect(held(store, 1)).toEqual(['b', 'c'])
    expect(held(store, 2)).toEqual(['a', 'b'])
    // Without the limit, a store takes the §11 default (here with a byte cap that never binds).
    const { maxRecordsPerApp: _omitted, ...withoutCap } = DEFAULT_LIMITS
    const unbounded = new KvStore({ clock: new FakeClock(), nodeWallet: () => A, limits: { ...withoutCap, maxAppStorageBytes: 1e12 } })
    for (let index = 0; index <= 50_000; index++) unbounded.merge(1, record({ key: `k${index}`, clock: vclock({ [B]: 1 }) }))
    expect(unbounded.stats().total_keys).toBe(50_000)
    expect(held(unbounded)).not.toContain('k0')
  })

  test('error: the constructor refuses a cap below 1', () => {
    expect(() => makeStore({ limits: { maxRecordsPerApp: 0 } })).toThrow(RangeError)
    expect(() => makeStore({ limits: { maxRecordsPerApp: 1.5 } })).toThrow(RangeError)
  })
})

describe('replicas evict alike (§6.4)', () => {
  const arbWire = fc.record({
    key: fc.string({ minLength: 1, maxLength: 40 }),
    valueBytes: fc.integer({ min: 28, max: 400 }),
    tombstone: fc.boolean(),
    writer: fc.constantFrom<Wallet>(A, B, C),
    count: fc.integer({ min: 1, max: 3 }),
    skew: fc.integer({ min: -5, max: 5 }),
  })

  test('property: two stores fed the same delta bodies by ingest hold the same records and the same total', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(arbWire, { maxLength: 12 }), { maxLength: 8 }), fc.integer({ min: 2, max: 8 }), async (bodies, maxRecordsPerApp) => {
        const limits = { maxValueSizeBytes: 400, maxAppStorageBytes: 4 * charge(20, 200), maxRecordsPerApp }
        // Different node wallets, as two real replicas have.
        const first = makeStore({ wallet: A, limits })
        const second = makeStore({ wallet: `0x${'e'.repeat(40)}` as Wallet, limits })
        for (const [serial, body] of bodies.entries()) {
          const group = body.map((w, index) =>
            wireRecord(w.key, {
              value: w.tombstone ? null : ((serial * 31 + index) % 180).toString(16).padStart(2, '0').repeat(w.valueBytes),
              version: { [w.writer]: w.count },
              updated_at_ms: T0 + w.skew,
              tombstone: w.tombstone,
            }),
          )
          // Each store parses its own copy of the text, as each node parses its own body.
          const text = JSON.stringify({ 1: group })
          expect(await first.store.ingest(JSON.parse(text), canDecrypt)).toEqual(await second.store.ingest(JSON.parse(text), canDecrypt))
        }
        expect(second.store.snapshot()).toEqual(first.store.snapshot())
        expect(second.store.stats()).toEqual(first.store.stats())
        expect(first.store.stats().total_bytes).toBeLessThanOrEqual(limits.maxAppStorageBytes)
      }),
      { numRuns: 200 },
    )
  })
})

describe('finding M1: a flood of 1 KiB keys with empty values (issue 12)', () => {
  const KEYS = 20_000
  const key = (index: number) => `${index}`.padStart(1024, 'k')
  // 1024 + 28 + 768 + 128 = 1948 bytes each: 5382 fit in 10 MiB (they took 84 MiB of RSS
  // on a replica when only their 28 bytes of ciphertext were counted).
  const FIT = Math.floor((10 * MIB) / 1948)

  test('behavior: 20 000 local PUTs stay within the charged cap, and the newest 5382 are held', () => {
    const { store } = makeStore()
    for (let index = 0; index < KEYS; index++) store.put(1, key(index), ciphertext(1), 0)
    const stats = store.stats()
    expect(FIT).toBe(5382)
    expect(stats).toEqual({ namespaces: 1, total_keys: FIT, total_bytes: FIT * 1948 })
    expect(stats.total_bytes).toBeLessThanOrEqual(10 * MIB)
    expect(store.list(1)).toEqual(Array.from({ length: FIT }, (_, offset) => key(KEYS - FIT + offset)).sort())
  })

  test('behavior: the same flood by sync leaves a replica with the same records', async () => {
    const writer = makeStore()
    const replica = makeStore({ wallet: B })
    for (let index = 0; index < KEYS; index++) writer.store.put(1, key(index), ciphertext(1), 0)
    for (let start = 0; start < KEYS; start += 2000) {
      const group = Array.from({ length: 2000 }, (_, offset) => wireRecord(key(start + offset), { version: { [A]: 1 } }))
      const result = await replica.store.ingest(JSON.parse(JSON.stringify({ 1: group })), canDecrypt)
      expect(result).toMatchObject({ merged: 2000, rejected: 0 })
    }
    expect(replica.store.stats()).toEqual(writer.store.stats())
    expect(held(replica.store)).toEqual(held(writer.store))
  })
})

describe('accounting under any input (§6.4)', () => {
  // Any UTF-16 units, lone surrogates included (those keys must be refused, §6.7).
  // Mostly a few keys, so that records are replaced, deleted and purged, not only added.
  const arbKey = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'ā' + 'x'.repeat(400), 'x'.repeat(1024), '\u{1F600}'.repeat(256)) },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) },
    { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 3 }).map((units) => String.fromCharCode(...units)) },
  )
  const arbOp = fc.oneof(
    fc.record({ kind: fc.constant('put' as const), key: arbKey, bytes: fc.integer({ min: 28, max: 300 }), ttl: fc.constantFrom(0, 0, 3) }),
    fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const), key: arbKey }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 8 }) }),
    fc.record({
      kind: fc.constant('ingest' as const),
      key: fc.oneof({ weight: 5, arbitrary: arbKey }, { weight: 1, arbitrary: fc.anything() }),
      bytes: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 28, max: 300 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 320 }) }),
      tombstone: fc.boolean(),
      version: fc.oneof(
        { weight: 5, arbitrary: fc.dictionary(fc.constantFrom<string>(A, B, C), fc.integer({ min: 1, max: 3 }), { minKeys: 1 }) },
        { weight: 1, arbitrary: fc.dictionary(fc.constantFrom<string>(A, B, C), fc.constantFrom(2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1)) },
        { weight: 1, arbitrary: fc.anything() },
      ),
    }),
  )

  test('property: the reported total is always the sum of the charges of the records held, within both caps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(arbOp, { maxLength: 50 }), async (ops) => {
        const limits = { maxValueSizeBytes: 272, maxAppStorageBytes: 5 * charge(8, 100), maxRecordsPerApp: 4, tombstoneRetentionMs: 20, maxTombstonesPerApp: 2 }
        const { store, clock } = makeStore({ limits })
        for (const op of ops) {
          try {
            if (op.kind === 'put') store.put(1, op.key, ciphertext(7, op.bytes), op.ttl)
            else if (op.kind === 'delete') store.delete(1, op.key)
            else if (op.kind === 'get') store.get(1, op.key)
            else if (op.kind === 'advance') clock.advance(op.ms)
            else if (op.kind === 'ingest') {
              const raw = { key: op.key, value: op.tombstone ? null : '0a'.repeat(op.bytes), version: op.version, updated_at_ms: clock.now, tombstone: op.tombstone }
              const result = await store.ingest(JSON.parse(JSON.stringify({ 1: [raw] })), canDecrypt)
              expect(result.total).toBe(1)
            }
          } catch (error) {
            // Only the documented refusals: not found, an ill-formed key, a key-length RangeError.
            const known = error instanceof RangeError || (error instanceof Error && 'code' in error && ['not_found', 'bad_request'].includes(String(error.code)))
            if (!known) throw error
          }
          const records = store.snapshot()['1'] ?? []
          const stats = store.stats()
          expect(stats.total_bytes).toBe(records.reduce((sum, r) => sum + wireCharge(r), 0))
          expect(stats.total_bytes).toBeLessThanOrEqual(limits.maxAppStorageBytes)
          expect(records.length).toBeLessThanOrEqual(limits.maxRecordsPerApp)
          expect(stats.total_keys).toBe(records.filter((r) => !r.tombstone).length)
        }
      }),
      { numRuns: 300 },
    )
  })
})
