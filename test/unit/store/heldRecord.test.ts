import { describe, expect, test } from 'vitest'
import type { Wallet } from '../../../core/encoding'
import { chargedBytes, toWireRecord } from '../../../core/store'
import { ByteSlab } from '../../../core/store/_byteSlab'
import { HeldRecord } from '../../../core/store/_heldRecord'
import { RecencyList } from '../../../core/store/_recencyList'
import { WalletInterner } from '../../../core/store/_walletInterner'
import { A, B, C, ciphertext, makeStore, record, T0, vclock, view } from './_helpers'

const hold = (fields: Parameters<typeof record>[0], slab = new ByteSlab()) => new HeldRecord(record(fields), slab, new WalletInterner())

describe('HeldRecord: a record packed for memory, a StoreRecord outside (§6.1, §6.4)', () => {
  test.each([
    ['no entry', vclock({})],
    ['one entry', vclock({ [B]: 2 ** 32 })],
    ['three entries, in their order', vclock({ [C]: 3, [A]: 1, [B]: 2 })],
  ])('behavior: the fields, the bytes and a clock of %s read back as written', (_name, clock) => {
    const source = record({ key: 'k\u{1F600}', ciphertext: ciphertext(5, 60), clock, updatedAtMs: T0 + 3, ttlMs: 9 })
    const held = new HeldRecord(source, new ByteSlab(), new WalletInterner())
    expect(view(held)).toEqual(view(source))
    expect([...held.clock]).toEqual([...clock])
    expect(held.charged()).toBe(chargedBytes(source))
    expect(chargedBytes(held)).toBe(chargedBytes(source))
    expect(toWireRecord(held)).toEqual(toWireRecord(source))
  })

  test('behavior: a tombstone holds no bytes', () => {
    const held = hold({ tombstone: true })
    expect(held.ciphertext.length).toBe(0)
    expect(held.tombstone).toBe(true)
  })

  test('behavior: the packed fields and links are private: keys, spread and JSON see only the plain fields', () => {
    const list = new RecencyList<HeldRecord>()
    const [a, b] = [hold({ key: 'a' }), hold({ key: 'b' })]
    list.add(a)
    list.add(b)
    expect(Object.keys(a)).toEqual(['key', 'updatedAtMs', 'tombstone', 'ttlMs'])
    expect(JSON.parse(JSON.stringify(a))).toEqual({ key: 'a', updatedAtMs: T0, tombstone: false, ttlMs: 0 })
  })

  test('behavior: a write through the ciphertext view changes the held value (as through the stored array before)', () => {
    const held = hold({ ciphertext: ciphertext(1, 40) })
    held.ciphertext[3] = 0xee
    expect(held.ciphertext[3]).toBe(0xee)
  })

  test('behavior: relocate moves the bytes into the fresh pages and keeps them', () => {
    const slab = new ByteSlab()
    const held = hold({ ciphertext: ciphertext(4, 90) }, slab)
    const page = held.ciphertext.buffer
    slab.restart()
    held.relocate(slab)
    expect(held.ciphertext.buffer).not.toBe(page)
    expect([...held.ciphertext]).toEqual(new Array(90).fill(4))
    expect(slab.liveBytes).toBe(90)
  })
})

describe('RecencyList: LRU links on the records (§6.4)', () => {
  test('behavior: add moves to the newest, delete unlinks, a record never added is not in it', () => {
    const list = new RecencyList<HeldRecord>()
    const [a, b, c, stranger] = ['a', 'b', 'c', 'x'].map((key) => hold({ key })) as [HeldRecord, HeldRecord, HeldRecord, HeldRecord]
    for (const node of [a, b, c]) list.add(node)
    list.add(a)
    expect(list.oldest()).toBe(b)
    expect(list.delete(stranger)).toBe(false)
    expect(list.has(stranger)).toBe(false)
    expect(list.oldest()).toBe(b)
    expect(list.delete(b)).toBe(true)
    expect([b.recencyOlder, b.recencyNewer]).toEqual([undefined, undefined])
    expect(list.oldest()).toBe(c)
    expect(list.delete(c) && list.delete(a)).toBe(true)
    expect(list.oldest()).toBeUndefined()
    list.add(stranger)
    expect(list.oldest()).toBe(stranger)
    expect(list.has(stranger)).toBe(true)
  })
})

describe('WalletInterner', () => {
  test('behavior: equal wallets get one string; the table starts over at its cap instead of growing', () => {
    const interner = new WalletInterner()
    const wallet = (index: number) => `0x${index.toString(16).padStart(40, '0')}` as Wallet
    expect(interner.intern(wallet(1))).toBe(wallet(1))
    expect(interner.size).toBe(1)
    interner.intern(wallet(1))
    expect(interner.size).toBe(1)
    for (let index = 0; index < 5000; index++) expect(interner.intern(wallet(index))).toBe(wallet(index))
    expect(interner.size).toBeLessThanOrEqual(1024)
    expect(interner.size).toBeGreaterThan(0)
  })
})

describe('KvStore over held records (§6.4 memory)', () => {
  test('behavior: put copies the ciphertext: changing the caller\'s array later changes nothing stored', () => {
    const { store } = makeStore()
    const value = ciphertext(1)
    store.put(1, 'k', value, 0)
    value.fill(2)
    expect([...store.get(1, 'k').ciphertext]).toEqual([...ciphertext(1)])
  })

  test('behavior: values stay intact while overwrites move every record to fresh pages, and a view read before keeps its bytes', () => {
    const { store } = makeStore()
    for (const [index, key] of ['a', 'b', 'c'].entries()) store.put(1, key, ciphertext(10 + index, 200), 0)
    const early = store.get(1, 'b').ciphertext
    const untouched = store.get(1, 'c').ciphertext.buffer
    for (let write = 0; write < 3000; write++) store.put(1, write % 2 ? 'a' : 'b', ciphertext(write & 0xff, 28 + (write % 1500)), 0)
    expect([...early]).toEqual(new Array(200).fill(11))
    expect([...store.get(1, 'c').ciphertext]).toEqual(new Array(200).fill(12))
    expect(store.get(1, 'c').ciphertext.buffer).not.toBe(untouched) // 'c' was never rewritten, yet moved
    expect([...store.get(1, 'a').ciphertext]).toEqual(new Array(28 + (2999 % 1500)).fill(2999 & 0xff))
    expect([...store.get(1, 'b').ciphertext]).toEqual(new Array(28 + (2998 % 1500)).fill(2998 & 0xff))
  })

  test('behavior: a held record merged into another store as the winner of a concurrent tie keeps its value', () => {
    const { store: from } = makeStore({ wallet: B })
    from.put(1, 'k', ciphertext(7), 0)
    const { store: into } = makeStore({ wallet: A })
    into.merge(1, record({ key: 'k', clock: vclock({ [A]: 1 }), updatedAtMs: T0 - 1, ciphertext: ciphertext(1) }))
    expect(into.merge(1, from.get(1, 'k'))).toBe('replaced_by_concurrent_lww')
    expect(view(into.get(1, 'k'))).toEqual({ key: 'k', ciphertext: [...ciphertext(7)], clock: { [A]: 1, [B]: 1 }, updatedAtMs: T0, tombstone: false, ttlMs: 0 })
  })
})
