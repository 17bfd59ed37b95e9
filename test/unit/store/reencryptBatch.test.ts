/**
 * `KvStore.reencryptBatch` and `dropRecordsBelowEpoch` (PROTOCOL §6.10): batches that resume
 * where the last one stopped, change only the ciphertext and the key epoch (clock, times, TTL,
 * charge, recency and the §6.8 push window stay), discard a result whose record changed while
 * it was computed, count failures without looping, and refuse a change of length.
 */
import { describe, expect, test } from 'vitest'
import type { KvStore, ReencryptBatchParams, StoreRecord, WireRecord } from '../../../core/store'
import { B, T0, canDecrypt, charge, ciphertext, makeStore, record, vclock, view } from './_helpers'

/** The stand-in re-encryption: same length, the first byte names the new epoch, the rest kept. */
const toEpoch = (target: number) => async (_appId: number, r: StoreRecord) => Uint8Array.from(r.ciphertext, (byte, index) => (index === 0 ? 0xe0 + target : byte))

const batch = (store: KvStore, limit: number, fields: Partial<ReencryptBatchParams> = {}) => store.reencryptBatch({ targetEpoch: 1, limit, reencrypt: toEpoch(1), ...fields })

/** The bytes a held re-encryption resolves to: no record may hold them once it was discarded. */
const HELD_FILL = 0xdd

/**
 * The first `held` calls resolve only when released (a re-encryption still running while the
 * store changes), to `HELD_FILL` bytes; later calls resolve at once, as `toEpoch(1)`.
 */
function gate(held = 1) {
  const waiting: { record: StoreRecord; release: () => void }[] = []
  const reencrypt = (appId: number, r: StoreRecord) =>
    waiting.length >= held ? toEpoch(1)(appId, r) : new Promise<Uint8Array>((resolve) => waiting.push({ record: r, release: () => resolve(ciphertext(HELD_FILL, r.ciphertext.length)) }))
  return { waiting, reencrypt }
}

/** Lets the batch's continuation run up to its next await. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

function fill(store: KvStore, count: number, app = 1): void {
  for (let index = 0; index < count; index++) store.put(app, `k${index}`, ciphertext(index + 1, 40), 0)
}

const wireOf = (store: KvStore) => JSON.parse(JSON.stringify(store.snapshot())) as Record<string, WireRecord[]>

describe('reencryptBatch: progress (§6.10)', () => {
  test('behavior: batches of `limit` go on where the last stopped: every record is re-encrypted once, then nothing remains', async () => {
    const { store } = makeStore()
    fill(store, 7, 1)
    fill(store, 3, 2)
    const seen: string[] = []
    const reencrypt = async (appId: number, r: StoreRecord) => {
      seen.push(`${appId}/${r.key}`)
      return toEpoch(1)(appId, r)
    }
    expect(await batch(store, 4, { reencrypt })).toEqual({ reencrypted: 4, remaining: 6, failed: 0 })
    expect(await batch(store, 4, { reencrypt })).toEqual({ reencrypted: 4, remaining: 2, failed: 0 })
    expect(await batch(store, 4, { reencrypt })).toEqual({ reencrypted: 2, remaining: 0, failed: 0 })
    expect(await batch(store, 4, { reencrypt })).toEqual({ reencrypted: 0, remaining: 0, failed: 0 })
    expect(seen).toHaveLength(10)
    expect(new Set(seen).size).toBe(10)
    expect(store.recordsBelowEpoch(1)).toBe(0)
    for (const group of Object.values(store.snapshot())) for (const r of group) expect([r.key_epoch, r.value?.slice(0, 2)]).toEqual([1, 'e1'])
  })

  test('behavior: tombstones and records already at (or above) the target are skipped and not counted', async () => {
    const { store } = makeStore()
    store.put(1, 'old', ciphertext(1), 0, 0)
    store.put(1, 'current', ciphertext(2), 0, 1)
    store.put(1, 'newer', ciphertext(3), 0, 2)
    store.put(1, 'gone', ciphertext(4), 0, 0)
    store.delete(1, 'gone')
    const seen: string[] = []
    const result = await batch(store, 10, { reencrypt: async (appId, r) => (seen.push(r.key), toEpoch(1)(appId, r)) })
    expect(result).toEqual({ reencrypted: 1, remaining: 0, failed: 0 })
    expect(seen).toEqual(['old'])
    expect(store.get(1, 'newer').keyEpoch).toBe(2)
  })

  test('behavior: a record that arrives under the old epoch behind the cursor is met by the next pass', async () => {
    const { store } = makeStore()
    fill(store, 4)
    expect((await batch(store, 3)).remaining).toBe(1) // the cursor has passed k0..k2
    // A causally newer write from a node still on epoch 0 replaces k0, behind the cursor.
    store.merge(1, record({ key: 'k0', ciphertext: ciphertext(9, 40), clock: vclock({ [store.get(1, 'k0').clock.keys().next().value!]: 1, [B]: 1 }), keyEpoch: 0 }))
    expect(store.recordsBelowEpoch(1)).toBe(2)
    expect(await batch(store, 10)).toEqual({ reencrypted: 2, remaining: 0, failed: 0 })
  })

  test('behavior: a key first stored while a pass runs is met in the same pass', async () => {
    const { store } = makeStore()
    fill(store, 3)
    expect((await batch(store, 1)).remaining).toBe(2)
    store.put(1, 'late', ciphertext(5, 40), 0, 0)
    expect(await batch(store, 10)).toEqual({ reencrypted: 3, remaining: 0, failed: 0 })
  })

  test('behavior: limit 0 visits nothing and reports what remains; the target may be any epoch', async () => {
    const { store } = makeStore()
    fill(store, 2)
    expect(await batch(store, 0)).toEqual({ reencrypted: 0, remaining: 2, failed: 0 })
    expect(await store.reencryptBatch({ targetEpoch: 0, limit: 5, reencrypt: toEpoch(0) })).toEqual({ reencrypted: 0, remaining: 0, failed: 0 })
  })

  test.each([
    ['a negative target', { targetEpoch: -1 }],
    ['a target of 2^32', { targetEpoch: 2 ** 32 }],
    ['a negative limit', { limit: -1 }],
    ['a fractional limit', { limit: 1.5 }],
  ])('error: %s is a RangeError', async (_name, fields) => {
    const { store } = makeStore()
    await expect(store.reencryptBatch({ targetEpoch: 1, limit: 1, reencrypt: toEpoch(1), ...fields })).rejects.toThrow(RangeError)
  })
})

describe('reencryptBatch: only the ciphertext and the epoch change (§6.10)', () => {
  test('behavior: clock, updated_at_ms, ttl_ms, tombstone flag and charged bytes are kept; the TTL still expires the record', async () => {
    const { store, clock } = makeStore()
    store.merge(1, record({ key: 'k', ciphertext: ciphertext(7, 50), clock: vclock({ [B]: 3 }), updatedAtMs: T0 - 5, ttlMs: 100 }))
    const before = { record: view(store.get(1, 'k')), stats: store.stats() }
    await batch(store, 1)
    const after = store.get(1, 'k')
    expect(after.keyEpoch).toBe(1)
    expect(view(after)).toEqual({ ...before.record, ciphertext: [0xe1, ...new Array(49).fill(7)] })
    expect(store.stats()).toEqual(before.stats)
    clock.advance(96)
    expect(store.list(1)).toEqual([])
    expect(store.stats()).toEqual({ namespaces: 0, total_keys: 0, total_bytes: 0 })
  })

  test('behavior: the LRU order is unchanged: the record evicted next is the one that would have been', async () => {
    const limits = { maxValueSizeBytes: 72, maxAppStorageBytes: 3 * charge(2, 100) }
    const evictedAfter = async (reencryptFirst: boolean) => {
      const { store } = makeStore({ limits })
      for (const key of ['k1', 'k2', 'k3']) store.put(1, key, ciphertext(1, 100), 0)
      store.get(1, 'k1') // k2 is now the least recently used
      if (reencryptFirst) expect((await batch(store, 10)).reencrypted).toBe(3)
      store.put(1, 'k4', ciphertext(2, 100), 0, 1)
      return store.list(1)
    }
    expect(await evictedAfter(false)).toEqual(['k1', 'k3', 'k4'])
    expect(await evictedAfter(true)).toEqual(['k1', 'k3', 'k4'])
  })

  test('behavior: not a change for delta push: every §6.8 window selects what it selected before, and no ingest observer fires', async () => {
    const { store, clock } = makeStore()
    fill(store, 3)
    clock.advance(2_000)
    const windows = [T0 - 1, T0, T0 + 1_000]
    const before = windows.map((since) => Object.values(store.selectDelta(since)).flat().map((r) => r.key))
    await batch(store, 10)
    expect(windows.map((since) => Object.values(store.selectDelta(since)).flat().map((r) => r.key))).toEqual(before)
    expect(store.selectDelta(T0)).toEqual({})
    expect(store.peekWire(1, 'k0')).toMatchObject({ updated_at_ms: T0, key_epoch: 1 })
  })

  test('behavior: two replicas holding the same write re-encrypt to the same bytes, and a merge between them is a no-op', async () => {
    const [one, two] = [makeStore(), makeStore({ wallet: B })]
    one.store.put(1, 'k', ciphertext(4, 60), 0)
    await two.store.ingest(wireOf(one.store), canDecrypt)
    await batch(one.store, 1)
    await batch(two.store, 1)
    expect(wireOf(one.store)).toEqual(wireOf(two.store))
    expect(await two.store.ingest(wireOf(one.store), canDecrypt)).toMatchObject({ merged: 0, skipped: 1 })
  })

  test('behavior: a replica still on the old epoch takes the re-encrypted copy (§6.6: higher epoch), the other way it keeps it', async () => {
    const [done, behind] = [makeStore(), makeStore({ wallet: B })]
    done.store.put(1, 'k', ciphertext(0xff, 60), 0) // 0xff > 0xe1: bytes alone would keep the old copy
    await behind.store.ingest(wireOf(done.store), canDecrypt)
    await batch(done.store, 1)
    expect((await done.store.ingest(wireOf(behind.store), canDecrypt)).skip_reasons).toEqual({ ignored_equal_version: 1 })
    expect((await behind.store.ingest(wireOf(done.store), canDecrypt)).merged).toBe(1)
    expect(behind.store.get(1, 'k').keyEpoch).toBe(1)
  })
})

describe('reencryptBatch: concurrency and failures (§6.10)', () => {
  test.each([
    // The replacement is of epoch 0 too, so the same batch wraps and re-encrypts it instead.
    ['replaced by a local put', (store: KvStore) => void store.put(1, 'k0', ciphertext(9, 40), 0, 0), 1],
    ['deleted', (store: KvStore) => void store.delete(1, 'k0'), 0],
    ['replaced by a merge of a newer version', (store: KvStore) => void store.merge(1, record({ key: 'k0', ciphertext: ciphertext(8, 40), clock: vclock({ [B]: 9 }), updatedAtMs: T0 + 9 })), 1],
    ['replaced by a write at the target epoch', (store: KvStore) => void store.put(1, 'k0', ciphertext(7, 40), 0, 1), 0],
    ['dropped', (store: KvStore) => void store.dropRecordsBelowEpoch(1), 0],
    ['cleared with the store', (store: KvStore) => store.clear(), 0],
  ])('behavior: a result for a record %s while it was being computed is discarded', async (_name, change, reencrypted) => {
    const { store } = makeStore()
    fill(store, 1)
    const { waiting, reencrypt } = gate()
    const running = batch(store, 5, { reencrypt })
    await tick()
    expect(waiting.map((w) => w.record.key)).toEqual(['k0'])
    const before = store.snapshot()
    change(store)
    const changed = store.snapshot()
    expect(changed).not.toEqual(before)
    waiting[0]!.release()
    expect(await running).toEqual({ reencrypted, remaining: 0, failed: 0 })
    const values = Object.values(store.snapshot()).flat()
    expect(values.some((r) => r.value?.startsWith(HELD_FILL.toString(16)))).toBe(false)
    if (reencrypted === 0) expect(store.snapshot()).toEqual(changed)
    else expect(store.peekWire(1, 'k0')).toMatchObject({ ...changed['1']![0], key_epoch: 1, value: `e1${changed['1']![0]!.value!.slice(2)}` })
  })

  test('behavior: two batches at once: each record is re-encrypted once, the later result for it is discarded', async () => {
    const { store } = makeStore()
    fill(store, 1)
    const first = gate()
    const second = gate()
    const one = batch(store, 5, { reencrypt: first.reencrypt })
    await tick()
    const other = batch(store, 5, { reencrypt: second.reencrypt })
    await tick()
    // The shared cursor has moved on: the second batch wrapped and met the same record.
    expect(second.waiting.map((w) => w.record.key)).toEqual(['k0'])
    first.waiting[0]!.release()
    expect(await one).toEqual({ reencrypted: 1, remaining: 0, failed: 0 })
    second.waiting[0]!.release()
    expect(await other).toEqual({ reencrypted: 0, remaining: 0, failed: 0 })
  })

  test('behavior: a reencrypt that throws is counted as failed, leaves the record, is tried once per batch, and the next batch tries it again', async () => {
    const { store } = makeStore()
    fill(store, 3)
    const cause = new Error('key not held')
    let calls = 0
    const reencrypt = async (appId: number, r: StoreRecord) => {
      calls++
      if (r.key === 'k1') throw cause
      return toEpoch(1)(appId, r)
    }
    const before = view(store.get(1, 'k1'))
    expect(await batch(store, 100, { reencrypt })).toEqual({ reencrypted: 2, remaining: 1, failed: 1, failure: cause })
    expect(calls).toBe(3)
    expect(view(store.get(1, 'k1'))).toEqual(before)
    expect(store.get(1, 'k1').keyEpoch).toBe(0)
    expect(await batch(store, 100, { reencrypt })).toEqual({ reencrypted: 0, remaining: 1, failed: 1, failure: cause })
    expect(calls).toBe(4)
  })

  test('behavior: a result of another length is refused as failed and the old value kept (AES-GCM keeps the length)', async () => {
    const { store } = makeStore()
    fill(store, 2)
    const before = store.stats()
    const result = await batch(store, 10, { reencrypt: async (_appId, r) => ciphertext(1, r.ciphertext.length + (r.key === 'k0' ? 1 : 0)) })
    expect(result).toMatchObject({ reencrypted: 1, remaining: 1, failed: 1 })
    expect(result.failure).toBeInstanceOf(RangeError)
    expect(store.get(1, 'k0').keyEpoch).toBe(0)
    expect(store.get(1, 'k0').ciphertext).toEqual(ciphertext(1, 40))
    expect(store.stats()).toEqual(before)
  })

  test('behavior: many values and page compaction: the re-encrypted bytes survive the evacuation of pages', async () => {
    const { store } = makeStore()
    fill(store, 300)
    const expected = new Map<string, number[]>()
    for (let round = 0; round < 3; round++) {
      const result = await store.reencryptBatch({
        targetEpoch: round + 1,
        limit: 1_000,
        reencrypt: async (_appId, r) => {
          const next = Uint8Array.from(r.ciphertext, (byte, index) => (index === 1 ? round + 1 : byte))
          expected.set(r.key, [...next])
          return next
        },
      })
      expect(result).toEqual({ reencrypted: 300, remaining: 0, failed: 0 })
    }
    for (const [key, bytes] of expected) expect([...store.get(1, key).ciphertext]).toEqual(bytes)
  })
})

describe('reencryptBatch: the observer (§6.8 journal)', () => {
  test('behavior: hears each record replaced, with the record handed over and the one now held; never a failed or discarded one', async () => {
    const { store } = makeStore()
    fill(store, 3)
    const heard: [number, string, number, number][] = []
    const handed = new Map<string, StoreRecord>()
    const { waiting, reencrypt } = gate(1)
    const running = store.reencryptBatch(
      {
        targetEpoch: 1,
        limit: 10,
        reencrypt: async (appId, r) => {
          handed.set(r.key, r)
          if (r.key === 'k1') throw new Error('refused')
          return reencrypt(appId, r)
        },
      },
      {
        reencrypted: (appId, previous, r) => {
          expect(previous).toBe(handed.get(r.key))
          expect(r).toBe(store.get(appId, r.key))
          heard.push([appId, r.key, previous.keyEpoch, r.keyEpoch])
        },
      },
    )
    await tick()
    store.put(1, 'k0', ciphertext(9, 40), 0, 1) // k0's result will be discarded
    waiting[0]!.release()
    expect(await running).toMatchObject({ reencrypted: 1, remaining: 1, failed: 1 })
    expect(heard).toEqual([[1, 'k2', 0, 1]])
  })
})

describe('dropRecordsBelowEpoch (§6.10, §7.7 step 1)', () => {
  test('behavior: removes exactly the values below the epoch, without tombstones; accounting and counts follow', () => {
    const { store } = makeStore()
    store.put(1, 'old', ciphertext(1, 50), 0, 0)
    store.put(1, 'kept', ciphertext(2, 60), 0, 1)
    store.put(1, 'gone', ciphertext(3), 0, 0)
    store.delete(1, 'gone')
    store.put(2, 'old', ciphertext(4), 0, 0)
    expect(store.dropRecordsBelowEpoch(1)).toBe(2)
    expect(store.snapshot()).toEqual({ 1: [store.peekWire(1, 'gone'), store.peekWire(1, 'kept')] })
    expect(store.peekWire(1, 'gone')?.tombstone).toBe(true)
    // A tombstone and the epoch-1 value remain; namespace 2 is gone.
    expect(store.stats()).toEqual({ namespaces: 1, total_keys: 1, total_bytes: charge(4, 0) + charge(4, 60) })
    expect([store.recordsBelowEpoch(1), store.recordsBelowEpoch(2)]).toEqual([0, 1])
    expect(store.dropRecordsBelowEpoch(1)).toBe(0)
  })

  test('behavior: a dropped key comes back from a peer that re-encrypted it in time, since no tombstone beats it', async () => {
    const [wiped, peer] = [makeStore(), makeStore({ wallet: B })]
    wiped.store.put(1, 'k', ciphertext(5, 40), 0)
    await peer.store.ingest(wireOf(wiped.store), canDecrypt)
    await batch(peer.store, 1)
    expect(wiped.store.dropRecordsBelowEpoch(1)).toBe(1)
    expect((await wiped.store.ingest(wireOf(peer.store), canDecrypt)).merged).toBe(1)
    expect(wiped.store.get(1, 'k').keyEpoch).toBe(1)
  })
})
