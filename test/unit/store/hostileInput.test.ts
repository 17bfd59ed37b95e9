/**
 * Issue 12, L3 and L4: clock entries are capped at 2^32 (a peer's larger entry is rejected,
 * a local write past the cap is a 400, never a 500), and keys must be well-formed UTF-16 on
 * every path (a lone surrogate has no UTF-8 form, so replicas would diverge).
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { KmsError } from '../../../core/errors'
import { incrementClock, isWellFormedKey, MAX_CLOCK_ENTRY, parseWireRecord } from '../../../core/store'
import { A, B, T0, canDecrypt, ciphertext, makeStore, record, vclock, view } from './_helpers'

const RULES = { nowMs: T0, maxClockSkewMs: 15_000, maxValueSizeBytes: 100, maxAppStorageBytes: 10_485_760 }
const wire = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  key: 'k',
  value: '01'.repeat(28),
  version: { [B]: 1 },
  updated_at_ms: T0,
  tombstone: false,
  ttl_ms: 0,
  ...fields,
})

/** The wire body of a KmsError thrown by `run`, with its HTTP status. */
function refusal(run: () => unknown): { status: number; code: string; message: string } {
  try {
    run()
  } catch (error) {
    if (!(error instanceof KmsError)) throw error
    return { status: error.status, ...error.toBody() }
  }
  throw new Error('expected a KmsError')
}

const VERSION_LIMIT = { status: 400, code: 'bad_request', message: 'Key version limit reached' }
const INVALID_KEY = { status: 400, code: 'bad_request', message: "Invalid 'key'" }

describe('L3: clock entries are at most 2^32 (§6.7)', () => {
  test('behavior: a peer entry of exactly 2^32 is accepted; 2^32 + 1 and 2^53 − 1 are rejected', () => {
    expect(MAX_CLOCK_ENTRY).toBe(4_294_967_296)
    expect(view(parseWireRecord(wire({ version: { [B]: 2 ** 32 } }), RULES))?.clock).toEqual({ [B]: 2 ** 32 })
    for (const entry of [2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 1e300]) {
      expect(parseWireRecord(wire({ version: { [B]: entry } }), RULES)).toBeUndefined()
      expect(parseWireRecord(wire({ version: { [B]: 1, [A]: entry }, tombstone: true }), RULES)).toBeUndefined()
    }
  })

  test('behavior: on ingest such records are counted as rejected, and the others merge', async () => {
    const { store } = makeStore()
    const result = await store.ingest(
      { 1: [wire({ key: 'stuck', version: { [A]: 2 ** 53 - 1 } }), wire({ key: 'over', version: { [B]: 2 ** 32 + 1 } }), wire({ key: 'ok', version: { [A]: 2 ** 32 } })] },
      canDecrypt,
    )
    expect(result).toEqual({ total: 3, merged: 1, skipped: 0, rejected: 2, skip_reasons: {} })
    expect(store.list(1)).toEqual(['ok'])
  })

  test('error: the finding: a key whose own entry is at the cap gets 400 on PUT and DELETE, not 500, and keeps its record', () => {
    const { store } = makeStore({ wallet: A })
    store.merge(1, record({ key: 'k', clock: vclock({ [A]: 2 ** 32 }), ciphertext: ciphertext(5) }))
    expect(refusal(() => store.put(1, 'k', ciphertext(6), 0))).toEqual(VERSION_LIMIT)
    expect(refusal(() => store.delete(1, 'k'))).toEqual(VERSION_LIMIT)
    expect(view(store.get(1, 'k'))).toMatchObject({ clock: { [A]: 2 ** 32 }, ciphertext: [...ciphertext(5)], tombstone: false })
    // A tombstone at the cap refuses a put over it the same way.
    store.merge(1, record({ key: 't', tombstone: true, clock: vclock({ [A]: 2 ** 32 }) }))
    expect(refusal(() => store.put(1, 't', ciphertext(6), 0))).toEqual(VERSION_LIMIT)
    // A record from before the rule (merged straight, 2^53 − 1) is refused the same way.
    store.merge(1, record({ key: 'old', clock: vclock({ [A]: 2 ** 53 - 1 }) }))
    expect(refusal(() => store.put(1, 'old', ciphertext(6), 0))).toEqual(VERSION_LIMIT)
  })

  test('behavior: the write that reaches 2^32 is accepted, the next one refused; other wallets do not matter', () => {
    const { store } = makeStore({ wallet: A })
    store.merge(1, record({ key: 'k', clock: vclock({ [A]: 2 ** 32 - 1, [B]: 2 ** 32 }) }))
    expect(view(store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 2 ** 32, [B]: 2 ** 32 })
    expect(refusal(() => store.put(1, 'k', ciphertext(3), 0))).toEqual(VERSION_LIMIT)
    const other = makeStore({ wallet: B })
    other.store.merge(1, record({ key: 'k', clock: vclock({ [A]: 2 ** 32 }) }))
    expect(view(other.store.put(1, 'k', ciphertext(2), 0))?.clock).toEqual({ [A]: 2 ** 32, [B]: 1 })
  })

  test('error: incrementClock refuses to pass 2^32', () => {
    expect(() => incrementClock(vclock({ [A]: 2 ** 32 }), A)).toThrow(RangeError)
    expect(incrementClock(vclock({ [A]: 2 ** 32 - 1 }), A).get(A)).toBe(2 ** 32)
  })
})

describe('L4: keys are well-formed UTF-16 on every path (§2.5, §6.7)', () => {
  const LONE = ['\ud800', '\udc00', 'a\ud800b', '\ud800\ud800', 'x\ud83d', '\ude00y', '\udc00\ud800']

  test('behavior: the finding: two lone surrogates become one key after a UTF-8 round trip', () => {
    const roundTrip = (key: string) => new TextDecoder().decode(new TextEncoder().encode(key))
    expect(roundTrip('\ud800')).toBe('\ufffd')
    expect(roundTrip('\ud801')).toBe('\ufffd')
  })

  test('error: put, delete and get refuse a lone surrogate with 400 Invalid \'key\', and store nothing', () => {
    const { store } = makeStore()
    store.put(1, 'live', ciphertext(1), 0)
    for (const key of LONE) {
      expect(refusal(() => store.put(1, key, ciphertext(1), 0))).toEqual(INVALID_KEY)
      expect(refusal(() => store.delete(1, key))).toEqual(INVALID_KEY)
      expect(refusal(() => store.get(1, key))).toEqual(INVALID_KEY)
    }
    expect(store.snapshot()['1']?.map((r) => r.key)).toEqual(['live'])
  })

  test('behavior: surrogate pairs, U+FFFD and other well-formed keys are accepted', () => {
    const { store } = makeStore()
    for (const key of ['\u{1F600}', '\ud83d\ude00x', '\ufffd', '\uffff', 'é']) {
      store.put(1, key, ciphertext(1), 0)
      expect(store.get(1, key).key).toBe(key)
    }
    store.delete(1, '\u{1F600}')
  })

  test('behavior: on ingest a lone-surrogate key is rejected and counted, from parsed JSON text too', async () => {
    for (const key of LONE) expect(parseWireRecord(wire({ key }), RULES)).toBeUndefined()
    const { store } = makeStore()
    const text = `{"1":[{"key":"\\ud800","value":"${'01'.repeat(28)}","version":{"${B}":1},"updated_at_ms":${T0}},` +
      `{"key":"\\ud801","tombstone":true,"version":{"${B}":1},"updated_at_ms":${T0}},` +
      `{"key":"\\ud83d\\ude00","value":"${'01'.repeat(28)}","version":{"${B}":1},"updated_at_ms":${T0}}]}`
    expect(await store.ingest(JSON.parse(text), canDecrypt)).toEqual({ total: 3, merged: 1, skipped: 0, rejected: 2, skip_reasons: {} })
    expect(store.snapshot()['1']?.map((r) => r.key)).toEqual(['\u{1F600}'])
  })

  test('property: isWellFormedKey agrees with String.prototype.isWellFormed on any UTF-16 units', () => {
    const native = (String.prototype as unknown as { isWellFormed?: (this: string) => boolean }).isWellFormed
    const arbUnits = fc.array(fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0xd7ff, max: 0xe000 })), { maxLength: 8 })
    fc.assert(
      fc.property(arbUnits, (units) => {
        const key = String.fromCharCode(...units)
        const expected = native !== undefined ? native.call(key) : new TextDecoder().decode(new TextEncoder().encode(key)) === key
        expect(isWellFormedKey(key)).toBe(expected)
      }),
      { numRuns: 2000 },
    )
  })
})
