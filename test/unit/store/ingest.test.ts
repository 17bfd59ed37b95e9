import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { parseAppId, parseWireRecord } from '../../../core/store'
import { B, T0, UNDECRYPTABLE, canDecrypt, makeStore, view } from './_helpers'

const RULES = { nowMs: T0, maxClockSkewMs: 15_000, maxValueSizeBytes: 100, maxAppStorageBytes: 10_485_760 }
const hexOf = (bytes: number, fill = '01') => fill.repeat(bytes)

/** A valid §4.3 record; each rejection test breaks exactly one field of it. */
const wire = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  key: 'k',
  value: hexOf(28),
  version: { [B]: 1 },
  updated_at_ms: T0,
  tombstone: false,
  ttl_ms: 0,
  ...fields,
})
const without = (field: string) => {
  const copy = wire()
  delete copy[field]
  return copy
}

describe('parseWireRecord: rejections (§6.7)', () => {
  test.each([
    ['not an object', [null, 1, 'k', true, [], [wire()]]],
    ['key absent or not a string', [without('key'), wire({ key: 1 }), wire({ key: null }), wire({ key: ['k'] })]],
    ['key empty or over 1024 UTF-8 bytes', [wire({ key: '' }), wire({ key: 'a'.repeat(1025) }), wire({ key: 'é'.repeat(513) })]],
    ['tombstone present but not a boolean', [wire({ tombstone: null }), wire({ tombstone: 'true' }), wire({ tombstone: 1 })]],
    ['version not an object', [without('version'), wire({ version: null }), wire({ version: [] }), wire({ version: 'x' }), wire({ version: 1 })]],
    [
      'version entry not a safe integer ≥ 1',
      [0, -1, 1.5, '1', null, 2 ** 53, Number.NaN].map((entry) => wire({ version: { [B]: entry } })),
    ],
    [
      'version wallet not canonical (never rewritten)',
      [`0x${'B'.repeat(40)}`, 'b'.repeat(40), `0X${'b'.repeat(40)}`, ` ${B}`, `${B}0`, '0x1234', '__proto__'].map((wallet) =>
        wire({ version: { [B]: 1, [wallet]: 1 } }),
      ),
    ],
    ['updated_at_ms not an integer ≥ 0', [-1, 1.5, '5', null, 2 ** 53, true].map((at) => wire({ updated_at_ms: at }))],
    ['ttl_ms not an integer ≥ 0', [-1, 1.5, '5', null, 2 ** 53, {}].map((ttl) => wire({ ttl_ms: ttl }))],
    ['updated_at_ms beyond now + MAX_CLOCK_SKEW_MS', [wire({ updated_at_ms: T0 + 15_001 }), wire({ tombstone: true, updated_at_ms: T0 + 99_999 })]],
    ['value absent or not a string', [without('value'), wire({ value: null }), wire({ value: 28 }), wire({ value: [1] })]],
    ['value not hex', [wire({ value: 'zz'.repeat(28) }), wire({ value: hexOf(28) + '0' }), wire({ value: `0x${hexOf(27)}g0` }), wire({ value: ` ${hexOf(28)}` })]],
    ['value under 28 bytes', [wire({ value: hexOf(27) }), wire({ value: '' }), wire({ value: `0x${hexOf(27)}` })]],
    ['value over MAX_KV_VALUE_SIZE_BYTES + 28 bytes', [wire({ value: hexOf(129) }), wire({ value: `0x${hexOf(129)}` })]],
  ])('error: %s', (_name, cases) => {
    for (const raw of cases) expect(parseWireRecord(raw, RULES)).toBeUndefined()
  })

  test('error: a __proto__ member in a version from JSON is a non-canonical wallet', () => {
    const raw: unknown = JSON.parse(`{"key":"k","value":"${hexOf(28)}","version":{"__proto__":1},"updated_at_ms":1}`)
    expect(parseWireRecord(raw, RULES)).toBeUndefined()
  })
})

describe('parseWireRecord: accepted forms (§6.7)', () => {
  test('behavior: a valid record parses into the stored form', () => {
    expect(view(parseWireRecord(wire({ ttl_ms: 5, extra: 'ignored' }), RULES))).toEqual({
      key: 'k',
      ciphertext: new Array(28).fill(1),
      clock: { [B]: 1 },
      updatedAtMs: T0,
      tombstone: false,
      ttlMs: 5,
    })
  })

  test('behavior: absent updated_at_ms and ttl_ms mean 0, absent tombstone means false', () => {
    const record = parseWireRecord({ key: 'k', value: hexOf(28), version: {} }, RULES)
    expect(record).toMatchObject({ updatedAtMs: 0, ttlMs: 0, tombstone: false })
    expect(record?.clock.size).toBe(0)
  })

  test('behavior: values in either case, with or without 0x, from 28 to max + 28 bytes (§0)', () => {
    for (const value of [hexOf(28, 'aB'), `0x${hexOf(28)}`, `0X${hexOf(128, 'Ff')}`, hexOf(128)]) {
      expect(parseWireRecord(wire({ value }), RULES)).toBeDefined()
    }
    expect([...parseWireRecord(wire({ value: hexOf(28, 'aB') }), RULES)!.ciphertext]).toEqual(new Array(28).fill(0xab))
  })

  test('behavior: a tombstone takes an empty ciphertext whatever its value', () => {
    for (const value of [null, undefined, 'zz', hexOf(500)]) {
      const record = parseWireRecord(wire({ tombstone: true, value }), RULES)
      expect(record?.tombstone).toBe(true)
      expect(record?.ciphertext.length).toBe(0)
    }
  })

  test('behavior: exactly now + MAX_CLOCK_SKEW_MS is allowed, and a 1024-byte key', () => {
    expect(parseWireRecord(wire({ updated_at_ms: T0 + 15_000 }), RULES)).toBeDefined()
    expect(parseWireRecord(wire({ key: '\u{1F600}'.repeat(256) }), RULES)).toBeDefined()
  })
})

describe('parseAppId (§6.7)', () => {
  test('behavior: decimal integers ≥ 1 only, never rewritten', () => {
    expect(['1', '49', '9007199254740991'].map(parseAppId)).toEqual([1, 49, 9007199254740991])
    for (const text of ['0', '-1', '01', '1.0', '1e3', ' 1', '0x1', '', 'abc', '__proto__', '9007199254740992']) {
      expect(parseAppId(text)).toBeUndefined()
    }
  })
})

describe('KvStore.ingest: counts (§4.3, conformance 78 and 79)', () => {
  test('behavior: bad records are rejected while the others merge, and total is the sum', async () => {
    const { store } = makeStore({ limits: { maxValueSizeBytes: 100, maxAppStorageBytes: 10_000 } })
    const data = {
      '1': [
        wire({ key: 'good' }),
        wire({ key: 'good' }), // the same version again
        wire({ key: 'big', value: hexOf(129) }),
        wire({ key: 'short', value: hexOf(27) }),
        wire({ key: 'foreign', value: UNDECRYPTABLE.toString(16) + hexOf(27) }),
        wire({ key: 'future', updated_at_ms: T0 + 15_001 }),
        wire({ key: '' }),
        wire({ key: 'clock', version: { [B.toUpperCase()]: 1 } }),
        wire({ key: 'gone', tombstone: true, value: null }),
        'not a record',
      ],
      '2': [wire({ key: 'other' })],
      '01': [wire({ key: 'badapp' })],
    }
    const result = await store.ingest(data, canDecrypt)
    expect(result).toEqual({ total: 12, merged: 3, skipped: 1, rejected: 8, skip_reasons: { ignored_equal_version: 1 } })
    expect(result.total).toBe(result.merged + result.skipped + result.rejected)
    expect(store.snapshot()['1']?.map((r) => r.key)).toEqual(['gone', 'good'])
    expect(store.list(2)).toEqual(['other'])
  })

  test('behavior: skip_reasons counts each ignored outcome and nothing else', async () => {
    const { store } = makeStore()
    await store.ingest({ 1: [wire({ key: 'a', version: { [B]: 2 } }), wire({ key: 'b', updated_at_ms: T0 })] }, canDecrypt)
    const result = await store.ingest(
      {
        1: [
          wire({ key: 'a', version: { [B]: 1 } }), // ignored_existing_newer_version
          wire({ key: 'a', version: { [B]: 2 } }), // ignored_equal_version
          wire({ key: 'b', version: { [`0x${'c'.repeat(40)}`]: 1 }, updated_at_ms: T0 - 1 }), // ignored_concurrent_tie_break
          wire({ key: 'b', version: { [`0x${'d'.repeat(40)}`]: 1 }, updated_at_ms: T0 + 1 }), // replaced_by_concurrent_lww
          wire({ key: 'a', version: { [B]: 3 } }), // replaced_by_version
          wire({ key: 'c' }), // inserted
        ],
      },
      canDecrypt,
    )
    expect(result).toEqual({
      total: 6,
      merged: 3,
      skipped: 3,
      rejected: 0,
      skip_reasons: { ignored_existing_newer_version: 1, ignored_equal_version: 1, ignored_concurrent_tie_break: 1 },
    })
  })

  test('behavior: a data that is not an object, or a group that is not an array, counts nothing', async () => {
    const { store } = makeStore()
    const empty = { total: 0, merged: 0, skipped: 0, rejected: 0, skip_reasons: {} }
    for (const data of [undefined, null, 5, 'x', true, [], [[wire()]], { 1: 'x' }, { 1: {} }, { 1: null }, { 1: { 0: wire() } }]) {
      expect(await store.ingest(data, canDecrypt)).toEqual(empty)
    }
    expect(store.stats().namespaces).toBe(0)
  })

  test('behavior: the decryption check sees the app id and the decoded ciphertext; tombstones skip it', async () => {
    const { store } = makeStore()
    const seen: [number, number[]][] = []
    const spy = async (appId: number, ciphertext: Uint8Array) => {
      seen.push([appId, [...ciphertext]])
      return true
    }
    await store.ingest({ 7: [wire({ value: hexOf(28, 'Ab') }), wire({ key: 't', tombstone: true })] }, spy)
    expect(seen).toEqual([[7, new Array(28).fill(0xab)]])
  })
})

/** Arbitrary JSON-ish values that mix valid record fields with garbage. */
const arbField = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom<unknown>(hexOf(28), hexOf(27), { [B]: 1 }, JSON.parse('{"__proto__":1}'), T0, -0, 2 ** 53, null, true, '__proto__'),
)
const arbRecord = fc.oneof(
  fc.record(
    {
      key: fc.oneof(fc.string({ maxLength: 8 }), arbField),
      value: arbField,
      version: fc.oneof(fc.dictionary(fc.constantFrom(B, B.toUpperCase(), '__proto__', 'constructor'), arbField), arbField),
      updated_at_ms: arbField,
      tombstone: fc.oneof(fc.boolean(), arbField),
      ttl_ms: arbField,
    },
    { requiredKeys: [] },
  ),
  fc.anything(),
)
const arbData = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom('1', '2', '0', '01', '__proto__', 'constructor', 'toString'), fc.string()), fc.oneof(fc.array(arbRecord), arbField)),
  fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true, withSparseArray: true }),
  fc.json().map((text) => JSON.parse(text) as unknown),
)

describe('KvStore.ingest: robustness', () => {
  test('property: never throws, keeps total = merged + skipped + rejected, pollutes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(arbData, async (data) => {
        const { store } = makeStore()
        const result = await store.ingest(data, canDecrypt)
        expect(result.total).toBe(result.merged + result.skipped + result.rejected)
        const skips = Object.values(result.skip_reasons).reduce((sum, n) => sum + (n ?? 0), 0)
        expect(skips).toBe(result.skipped)
        expect(({} as Record<string, unknown>)['1']).toBeUndefined()
        expect(Object.keys(Object.prototype)).toEqual([])
        store.snapshot()
        store.stats()
      }),
      { numRuns: 500 },
    )
  })

  test('behavior: JSON text with __proto__ members at every level is handled as data', async () => {
    const text = `{"__proto__":[{"key":"k"}],"1":[{"__proto__":{"key":"x"},"key":"k","value":"${hexOf(28)}","version":{"${B}":1},"updated_at_ms":${T0}}]}`
    const { store } = makeStore()
    const result = await store.ingest(JSON.parse(text), canDecrypt)
    expect(result).toEqual({ total: 2, merged: 1, skipped: 0, rejected: 1, skip_reasons: {} })
    expect(({} as Record<string, unknown>).key).toBeUndefined()
  })
})
