/**
 * The key epoch of a record (PROTOCOL §4.3 `key_epoch`, §6.6, §6.7, §6.10): parsed and sent
 * only when above 0, checked under its own data key, ordered between `updated_at_ms` and the
 * ciphertext bytes by the merge, and packed into the held record without a field of its own.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { canonicalJson } from '../../../core/encoding'
import { createAppValues, MAX_KEY_EPOCH, mergeRecord, parseWireRecord, toWireRecord, type AppValueCipher, type StoreRecord } from '../../../core/store'
import { ByteSlab } from '../../../core/store/_byteSlab'
import { HeldRecord } from '../../../core/store/_heldRecord'
import { WalletInterner } from '../../../core/store/_walletInterner'
import { seededRandom } from '../../helpers/fakeClock'
import { A, B, T0, ciphertext, makeStore, record, vclock, view } from './_helpers'

const RULES = { nowMs: T0, maxClockSkewMs: 15_000, maxValueSizeBytes: 100, maxAppStorageBytes: 10_485_760 }

/** A valid §4.3 record; each case changes one field. */
const wire = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  key: 'k',
  value: '01'.repeat(28),
  version: { [B]: 1 },
  updated_at_ms: T0,
  tombstone: false,
  ttl_ms: 0,
  ...fields,
})

describe('key_epoch on the wire (§4.3, §6.7)', () => {
  test('behavior: absent means 0, and an integer 0..2^32−1 is the epoch', () => {
    expect(parseWireRecord(wire(), RULES)?.keyEpoch).toBe(0)
    for (const epoch of [0, 1, 7, 2 ** 31, MAX_KEY_EPOCH]) expect(parseWireRecord(wire({ key_epoch: epoch }), RULES)?.keyEpoch).toBe(epoch)
  })

  test('behavior: a JSON -0 is epoch 0, and is sent back without the field', () => {
    const parsed = parseWireRecord(JSON.parse(JSON.stringify(wire()).replace('"ttl_ms":0', '"ttl_ms":0,"key_epoch":-0')), RULES)
    expect(Object.is(parsed?.keyEpoch, 0)).toBe(true)
    expect(Object.hasOwn(toWireRecord(parsed!), 'key_epoch')).toBe(false)
  })

  test.each([
    ['negative', -1],
    ['not an integer', 1.5],
    ['2^32 or more', 2 ** 32],
    ['beyond the safe integers', 2 ** 53],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a string', '1'],
    ['null', null],
    ['a boolean', true],
    ['an object', {}],
    ['an array', [1]],
  ])('error: a key_epoch that is %s rejects the record', (_name, epoch) => {
    expect(parseWireRecord(wire({ key_epoch: epoch }), RULES)).toBeUndefined()
    expect(parseWireRecord(wire({ key_epoch: epoch, tombstone: true, value: null }), RULES)).toBeUndefined()
  })

  test('error: a tombstone with key_epoch > 0 is rejected; with 0 or none it is accepted', () => {
    expect(parseWireRecord(wire({ tombstone: true, value: null, key_epoch: 1 }), RULES)).toBeUndefined()
    expect(parseWireRecord(wire({ tombstone: true, value: null, key_epoch: MAX_KEY_EPOCH }), RULES)).toBeUndefined()
    expect(parseWireRecord(wire({ tombstone: true, value: null, key_epoch: 0 }), RULES)?.tombstone).toBe(true)
    expect(parseWireRecord(wire({ tombstone: true, value: null }), RULES)?.keyEpoch).toBe(0)
  })

  test('vector: an epoch-0 record is sent without key_epoch, byte for byte as before epochs', () => {
    const epoch0 = record({ ciphertext: ciphertext(0xab), clock: vclock({ [A]: 2 }), ttlMs: 9 })
    expect(canonicalJson(toWireRecord(epoch0))).toBe(
      `{"key":"k","tombstone":false,"ttl_ms":9,"updated_at_ms":${T0},"value":"${'ab'.repeat(28)}","version":{"${A}":2}}`,
    )
    expect(Object.hasOwn(toWireRecord(record({ tombstone: true })), 'key_epoch')).toBe(false)
  })

  test('vector: a record of epoch 3 carries "key_epoch":3', () => {
    const epoch3 = record({ ciphertext: ciphertext(0xab), keyEpoch: 3 })
    expect(canonicalJson(toWireRecord(epoch3))).toBe(
      `{"key":"k","key_epoch":3,"tombstone":false,"ttl_ms":0,"updated_at_ms":${T0},"value":"${'ab'.repeat(28)}","version":{"${A}":1}}`,
    )
  })

  test('property: toWireRecord then parseWireRecord keeps the epoch (and the rest)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_KEY_EPOCH }), fc.nat({ max: 255 }), (epoch, fill) => {
        const source = record({ ciphertext: ciphertext(fill), keyEpoch: epoch })
        const parsed = parseWireRecord(JSON.parse(JSON.stringify(toWireRecord(source))), RULES)
        expect(parsed?.keyEpoch).toBe(epoch)
        expect(view(parsed)).toEqual(view(source))
      }),
    )
  })
})

describe('ingest: the decryption check uses the record\'s epoch (§6.7)', () => {
  test('behavior: canDecrypt gets (app, ciphertext, key_epoch); a value refused under its epoch is counted, a tombstone is not checked', async () => {
    const { store } = makeStore()
    const calls: [number, number, number][] = []
    // Stands for a node holding epochs 0 and 2: epoch 1 is not held.
    const canDecrypt = async (appId: number, bytes: Uint8Array, keyEpoch: number) => {
      calls.push([appId, bytes[0]!, keyEpoch])
      return keyEpoch !== 1
    }
    const data = {
      7: [
        wire({ key: 'a' }),
        wire({ key: 'b', key_epoch: 1, value: '02'.repeat(28) }),
        wire({ key: 'c', key_epoch: 2, value: '03'.repeat(28) }),
        wire({ key: 'd', tombstone: true, value: null }),
      ],
    }
    expect(await store.ingest(data, canDecrypt)).toEqual({ total: 4, merged: 3, skipped: 0, rejected: 1, skip_reasons: {} })
    expect(calls).toEqual([
      [7, 1, 0],
      [7, 2, 1],
      [7, 3, 2],
    ])
    expect(store.get(7, 'c').keyEpoch).toBe(2)
    expect(store.get(7, 'a').keyEpoch).toBe(0)
    expect(() => store.get(7, 'b')).toThrow()
  })

  test('behavior: a CanDecrypt of two parameters (a caller from before epochs) still type-checks and is called', async () => {
    const { store } = makeStore()
    const twoParameters = async (_appId: number, bytes: Uint8Array) => bytes.length >= 28
    expect((await store.ingest({ 1: [wire({ key_epoch: 5 })] }, twoParameters)).merged).toBe(1)
  })
})

const at = (fields: Partial<StoreRecord>) => record({ clock: vclock({ [A]: 1 }), updatedAtMs: T0, ...fields })

describe('merge order: updated_at_ms, then key_epoch, then the bytes (§6.6)', () => {
  test('behavior: equal clocks and time: the re-encrypted copy (higher epoch) replaces its own older copy, whatever the bytes', () => {
    const old = at({ ciphertext: ciphertext(0xff), keyEpoch: 0 })
    const reencrypted = at({ ciphertext: ciphertext(0x01), keyEpoch: 1 })
    expect(mergeRecord(old, reencrypted).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(reencrypted, old).reason).toBe('ignored_equal_version')
    expect(mergeRecord(old, reencrypted).record.keyEpoch).toBe(1)
  })

  test('behavior: concurrent clocks, equal time: the higher epoch wins before the bytes are compared, and the clock is the max', () => {
    const mine = record({ ciphertext: ciphertext(0xff), clock: vclock({ [A]: 1 }), keyEpoch: 0 })
    const theirs = record({ ciphertext: ciphertext(0x01), clock: vclock({ [B]: 1 }), keyEpoch: 1 })
    const outcome = mergeRecord(mine, theirs)
    expect(outcome.reason).toBe('replaced_by_concurrent_lww')
    expect(outcome.record.keyEpoch).toBe(1)
    expect(view(outcome.record)?.clock).toEqual({ [A]: 1, [B]: 1 })
    expect(mergeRecord(theirs, mine).reason).toBe('ignored_concurrent_tie_break')
  })

  test('behavior: a later updated_at_ms wins over a higher epoch', () => {
    const later = record({ ciphertext: ciphertext(0x01), clock: vclock({ [A]: 1 }), updatedAtMs: T0 + 1, keyEpoch: 0 })
    const newerKey = record({ ciphertext: ciphertext(0xff), clock: vclock({ [B]: 1 }), updatedAtMs: T0, keyEpoch: 9 })
    expect(mergeRecord(later, newerKey).reason).toBe('ignored_concurrent_tie_break')
    expect(mergeRecord(newerKey, later).reason).toBe('replaced_by_concurrent_lww')
  })

  test('behavior: a causally newer write at an older epoch still replaces a re-encrypted copy (the clock decides first)', () => {
    const reencrypted = record({ clock: vclock({ [A]: 1 }), keyEpoch: 1, updatedAtMs: T0 + 5 })
    const successor = record({ clock: vclock({ [A]: 1, [B]: 1 }), keyEpoch: 0, updatedAtMs: T0 })
    expect(mergeRecord(reencrypted, successor).reason).toBe('replaced_by_version')
    expect(mergeRecord(successor, reencrypted).reason).toBe('ignored_existing_newer_version')
  })

  test('behavior: same bytes under another epoch are not the same content; equal epochs fall through to the bytes', () => {
    const zero = at({ ciphertext: ciphertext(5), keyEpoch: 0 })
    expect(mergeRecord(zero, at({ ciphertext: ciphertext(5), keyEpoch: 2 })).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(zero, at({ ciphertext: ciphertext(5), keyEpoch: 0 })).reason).toBe('ignored_equal_version')
    expect(mergeRecord(at({ ciphertext: ciphertext(5), keyEpoch: 1 }), at({ ciphertext: ciphertext(6), keyEpoch: 1 })).reason).toBe('replaced_by_concurrent_lww')
    expect(mergeRecord(at({ ciphertext: ciphertext(6), keyEpoch: 1 }), at({ ciphertext: ciphertext(5), keyEpoch: 1 })).reason).toBe('ignored_equal_version')
  })

  test('property: two replicas that merge the same two copies in either order hold the same content (the order is total; the losing side keeps its own clock until the winner\'s joined one reaches it)', () => {
    const copy = fc.record({
      fill: fc.nat({ max: 3 }),
      keyEpoch: fc.nat({ max: 2 }),
      updatedAtMs: fc.constantFrom(T0, T0 + 1),
      writer: fc.constantFrom(A, B),
    })
    fc.assert(
      fc.property(copy, copy, (x, y) => {
        const make = (c: typeof x) => record({ ciphertext: ciphertext(c.fill), keyEpoch: c.keyEpoch, updatedAtMs: c.updatedAtMs, clock: vclock({ [c.writer]: 1 }) })
        const [left, right] = [make(x), make(y)]
        const one = mergeRecord(left, right).record
        const other = mergeRecord(right, left).record
        expect({ ...view(one), clock: undefined, keyEpoch: one.keyEpoch }).toEqual({ ...view(other), clock: undefined, keyEpoch: other.keyEpoch })
      }),
    )
  })
})

describe('the held record packs the epoch with the page offset (§6.4 memory)', () => {
  const hold = (fields: Partial<StoreRecord>, slab = new ByteSlab()) => new HeldRecord(record(fields), slab, new WalletInterner())

  test.each([0, 1, 2 ** 15 - 1, 2 ** 15, 2 ** 31, MAX_KEY_EPOCH])('behavior: epoch %d and the bytes read back, in a page and in a buffer of their own', (epoch) => {
    const slab = new ByteSlab()
    hold({ ciphertext: ciphertext(9, 1000) }, slab) // the next value sits at a non-zero offset
    for (const length of [40, 2000]) {
      const held = hold({ ciphertext: ciphertext(3, length), keyEpoch: epoch }, slab)
      expect(held.keyEpoch).toBe(epoch)
      expect([...held.ciphertext]).toEqual(new Array(length).fill(3))
      slab.restart()
      held.relocate(slab)
      expect(held.keyEpoch).toBe(epoch)
      expect([...held.ciphertext]).toEqual(new Array(length).fill(3))
    }
  })

  test('behavior: the epoch adds no enumerable field (spread and JSON see the same four as before)', () => {
    const held = hold({ keyEpoch: 4 })
    expect(Object.keys(held)).toEqual(['key', 'updatedAtMs', 'tombstone', 'ttlMs'])
  })

  test.each([
    ['a tombstone with an epoch', { tombstone: true, keyEpoch: 1 }],
    ['a negative epoch', { keyEpoch: -1 }],
    ['an epoch of 2^32', { keyEpoch: 2 ** 32 }],
    ['a fractional epoch', { keyEpoch: 0.5 }],
  ])('error: %s is a bug (RangeError)', (_name, fields) => {
    expect(() => hold(fields)).toThrow(RangeError)
  })
})

describe('local writes take the epoch from the caller (§6.2, §7.7)', () => {
  test('behavior: put stores keyEpoch (default 0), get returns it; delete writes a tombstone of epoch 0', () => {
    const { store } = makeStore()
    expect(store.put(1, 'old', ciphertext(1), 0).keyEpoch).toBe(0)
    expect(store.put(1, 'new', ciphertext(1), 0, 3).keyEpoch).toBe(3)
    expect(store.get(1, 'new').keyEpoch).toBe(3)
    expect(store.peekWire(1, 'new')?.key_epoch).toBe(3)
    expect(store.delete(1, 'new').keyEpoch).toBe(0)
    expect(store.peekWire(1, 'new')).not.toHaveProperty('key_epoch')
  })

  test.each([-1, 1.5, 2 ** 32, Number.NaN])('error: put with keyEpoch %d is a RangeError and stores nothing', (epoch) => {
    const { store } = makeStore()
    expect(() => store.put(1, 'k', ciphertext(1), 0, epoch)).toThrow(RangeError)
    expect(store.list(1)).toEqual([])
  })

  test('behavior: appValues encrypts under the given epoch, stores it, and decrypts under the epoch the record names', async () => {
    const { store } = makeStore()
    const seen: string[] = []
    const cipher: AppValueCipher = {
      encryptValue: async (_appId, plaintext, nonce, keyEpoch) => {
        seen.push(`encrypt@${keyEpoch}`)
        return Uint8Array.from([...nonce, ...plaintext, ...new Uint8Array(16).fill(keyEpoch)])
      },
      decryptValue: async (_appId, bytes, keyEpoch) => {
        seen.push(`decrypt@${keyEpoch}`)
        return bytes.subarray(12, bytes.length - 16)
      },
    }
    const values = createAppValues({ store, cipher, random: seededRandom(1) })
    const { record: stored } = await values.put(5, 'k', Uint8Array.of(1, 2), 0, 2)
    expect(stored.keyEpoch).toBe(2)
    await values.put(5, 'zero', Uint8Array.of(3), 0)
    expect((await values.get(5, 'k')).value).toEqual(Uint8Array.of(1, 2))
    expect((await values.get(5, 'zero')).value).toEqual(Uint8Array.of(3))
    expect(seen).toEqual(['encrypt@2', 'encrypt@0', 'decrypt@2', 'decrypt@0'])
  })
})
