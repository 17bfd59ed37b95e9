import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { compareBytes, type Wallet } from '../../../core/encoding'
import { compareClocks, mergeRecord, parseWireRecord, toWireRecord, type KvStore, type StoreRecord, type WireRecord } from '../../../core/store'
import { A, B, C, FakeClock, T0, UNDECRYPTABLE, canDecrypt, makeStore, view } from './_helpers'

/** What a replica's data means, without the clocks: §6.6 lets equal values keep different clocks. */
const values = (store: KvStore) => (store.snapshot()['1'] ?? []).map(({ version: _version, ...rest }) => rest)

/** Unique 28-byte ciphertexts whose byte order is unrelated to the write order. */
const sealed = (serial: number) => {
  const bytes = new Uint8Array(28)
  bytes[0] = (serial * 73) % 181 // never UNDECRYPTABLE (0xbd)
  bytes[1] = serial & 0xff
  bytes[2] = serial >> 8
  return bytes
}

describe('§6.6 worked example between two nodes', () => {
  test('vector: X and Y end with the same value through their sync paths', async () => {
    const clock = new FakeClock(1000)
    const x = makeStore({ wallet: A, clock }).store
    const y = makeStore({ wallet: B, clock }).store
    x.put(1, 'k', new Uint8Array(28).fill(1), 0) // S = {a:1}, t=1000, ct 01…
    y.put(1, 'k', new Uint8Array(28).fill(2), 0) // R = {b:1}, t=1000, ct 02…
    const s = x.snapshot()
    const r = y.snapshot()
    expect(await x.ingest(r, canDecrypt)).toMatchObject({ merged: 1 })
    expect(x.snapshot()['1']?.[0]?.version).toEqual({ [A]: 1, [B]: 1 })
    expect(await y.ingest(s, canDecrypt)).toMatchObject({ skip_reasons: { ignored_concurrent_tie_break: 1 } })
    expect(y.snapshot()['1']?.[0]?.version).toEqual({ [B]: 1 })
    expect(await y.ingest(x.snapshot(), canDecrypt)).toMatchObject({ merged: 1 })
    expect(y.snapshot()).toEqual(x.snapshot())
    expect(y.snapshot()['1']?.[0]?.value).toBe('02'.repeat(28))
  })
})

describe('same-millisecond writes', () => {
  // x by A; y by B after seeing x, in the same ms, with a smaller ciphertext; z by C, concurrent.
  const hex = (fill: number) => fill.toString(16).padStart(2, '0').repeat(28)
  const write = (wallets: Partial<Record<Wallet, number>>, fill: number): WireRecord => ({
    key: 'k', value: hex(fill), version: wallets as Record<Wallet, number>, updated_at_ms: T0, tombstone: false, ttl_ms: 0,
  })

  // A limit of §6.6 when writes are stamped exactly now_ms as §6.2 has it, e.g. by a peer
  // without the README deviation: y, a successor of x, can lose the tie-break to x.
  test('behavior: stamped exactly now_ms (§6.2), replicas fed only the original writes can disagree until they exchange stored records', async () => {
    const [x, y, z] = [write({ [A]: 1 }, 0xff), write({ [A]: 1, [B]: 1 }, 0x00), write({ [C]: 1 }, 0x80)]
    const first = makeStore().store
    const second = makeStore().store
    await first.ingest({ 1: [x, y, z] }, canDecrypt)
    await second.ingest({ 1: [z, x, y] }, canDecrypt)
    expect(values(first)[0]?.value).toBe(hex(0x80))
    expect(values(second)[0]?.value).toBe(hex(0xff))
    // The stored clocks carry what each replica has seen, so one exchange settles it.
    await second.ingest(first.snapshot(), canDecrypt)
    await first.ingest(second.snapshot(), canDecrypt)
    expect(values(second)).toEqual(values(first))
  })

  test('behavior: made by KvStore nodes, y is stamped after x (README deviation), so the original writes alone agree on y', async () => {
    const clock = new FakeClock()
    const [a, b, c] = [A, B, C].map((wallet) => makeStore({ wallet, clock }).store) as [KvStore, KvStore, KvStore]
    const x = toWireRecord(a.put(1, 'k', new Uint8Array(28).fill(0xff), 0))
    await b.ingest({ 1: [x] }, canDecrypt)
    const y = toWireRecord(b.put(1, 'k', new Uint8Array(28).fill(0x00), 0))
    const z = toWireRecord(c.put(1, 'k', new Uint8Array(28).fill(0x80), 0))
    expect([x, y, z].map((w) => [w.version, w.updated_at_ms])).toEqual([[{ [A]: 1 }, T0], [{ [A]: 1, [B]: 1 }, T0 + 1], [{ [C]: 1 }, T0]])
    for (const order of [[x, y, z], [z, x, y], [y, z, x], [z, y, x]]) {
      const replica = makeStore({ clock }).store
      await replica.ingest({ 1: order }, canDecrypt)
      expect(values(replica)[0]?.value).toBe(hex(0x00))
    }
  })

  // The regression that motivated the deviation: under §6.2 as written, v3 was stamped t like
  // v2, lost the tie-break at x to the v2 that x had stored with the merged clock {a:1,b:1},
  // and then v2's {a:1,b:1} copy overwrote v3 on b too: an acknowledged write was lost.
  test('vector: b writes v2 then v3 in one millisecond; x, holding a concurrent v1, ends with v3, and so does b', async () => {
    const clock = new FakeClock()
    const x = makeStore({ wallet: A, clock }).store
    const b = makeStore({ wallet: B, clock }).store
    x.put(1, 'k', new Uint8Array(28).fill(0x10), 0) // v1 {a:1} at t
    const v2 = b.put(1, 'k', new Uint8Array(28).fill(0x30), 0) // {b:1} at t, beats v1 by bytes
    const v3 = b.put(1, 'k', new Uint8Array(28).fill(0x20), 0) // {b:2}, smaller bytes than v2
    expect(v3.updatedAtMs).toBe(v2.updatedAtMs + 1)
    expect(await x.ingest({ 1: [toWireRecord(v2)] }, canDecrypt)).toMatchObject({ merged: 1 })
    expect(x.snapshot()['1']?.[0]?.version).toEqual({ [A]: 1, [B]: 1 })
    // {b:2} and the merged {a:1,b:1} are concurrent: v3 must win the tie-break, by time.
    expect(await x.ingest({ 1: [toWireRecord(v3)] }, canDecrypt)).toMatchObject({ merged: 1 })
    expect(x.snapshot()['1']?.[0]).toMatchObject({ value: '20'.repeat(28), version: { [A]: 1, [B]: 2 }, updated_at_ms: T0 + 1 })
    await b.ingest(x.snapshot(), canDecrypt)
    await x.ingest(b.snapshot(), canDecrypt)
    expect(values(b)).toEqual(values(x))
    expect(values(b)[0]?.value).toBe('20'.repeat(28))
  })
})

describe('equal clocks with different values (deviation from §6.6, README)', () => {
  // A writer whose counter was reset (here: restarted with an empty store) reuses {a:1}.
  test('vector: every replica keeps the greater (updated_at_ms, ciphertext), whatever the delivery order', async () => {
    const clock = new FakeClock()
    const incarnation = (fill: number) => toWireRecord(makeStore({ wallet: A, clock }).store.put(1, 'k', new Uint8Array(28).fill(fill), 0))
    const first = incarnation(0x10) // {a:1} at T0
    const second = incarnation(0x20) // {a:1} at T0, greater bytes
    clock.advance(1)
    const third = incarnation(0x05) // {a:1} at T0 + 1, later
    expect(new Set([first, second, third].map((w) => JSON.stringify(w.version))).size).toBe(1)
    const cases: [WireRecord[][], string][] = [
      [[[first, second], [second, first]], '20'.repeat(28)],
      [[[first, second, third], [third, second, first], [second, third, first], [first, third, second]], '05'.repeat(28)],
    ]
    for (const [orders, winner] of cases) {
      for (const order of orders) {
        const replica = makeStore({ wallet: B, clock }).store
        await replica.ingest({ 1: order }, canDecrypt)
        expect(values(replica)[0]?.value).toBe(winner)
      }
    }
  })

  const arbSameClock = fc.uniqueArray(
    fc.record({ at: fc.integer({ min: 0, max: 3 }), fill: fc.integer({ min: 0, max: 255 }).filter((n) => n !== UNDECRYPTABLE), tombstone: fc.boolean() }),
    { minLength: 1, maxLength: 8, selector: ({ at, fill, tombstone }) => `${at}/${tombstone ? '-' : fill}` },
  )

  test('property: records sharing one clock end as the greatest (updated_at_ms, ciphertext) in any order, with duplicates', async () => {
    await fc.assert(
      fc.asyncProperty(arbSameClock, arbOrder, arbOrder, async (specs, one, two) => {
        const writes: WireRecord[] = specs.map(({ at, fill, tombstone }) => ({
          key: 'k', value: tombstone ? null : fill.toString(16).padStart(2, '0').repeat(28), version: { [A]: 1, [B]: 3 }, updated_at_ms: T0 + at, tombstone, ttl_ms: 0,
        }))
        const rank = (w: WireRecord) => `${w.updated_at_ms}/${w.value ?? ''}` // same width: orders like (t, bytes)
        const greatest = writes.reduce((best, w) => (rank(w) > rank(best) ? w : best))
        for (const order of [one, two]) {
          const replica = makeStore({ clock: new FakeClock(T0) }).store
          await replica.ingest({ 1: deliveryOrder(writes, order.randoms, order.extra) }, canDecrypt)
          expect(replica.snapshot()['1']).toEqual([greatest])
        }
      }),
      { numRuns: 200 },
    )
  })
})

type Op =
  | { kind: 'put'; node: number; key: string }
  | { kind: 'delete'; node: number; key: string }
  | { kind: 'sync'; from: number; to: number }

const arbNode = fc.integer({ min: 0, max: 2 })
const arbKey = fc.constantFrom('x', 'y')
const arbOps = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('put' as const), node: arbNode, key: arbKey }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), node: arbNode, key: arbKey }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: arbNode, to: arbNode }) },
  ),
  { minLength: 1, maxLength: 30 },
)

/**
 * Three nodes write and gossip on one wall clock that moves 1 ms per step, so timestamps
 * follow causality and no two writes share a millisecond. Returns every local write.
 */
async function simulate(ops: Op[]) {
  const clock = new FakeClock()
  const nodes = [A, B, C].map((wallet) => makeStore({ wallet, clock }).store)
  const writes: WireRecord[] = []
  for (const [serial, op] of ops.entries()) {
    clock.advance(1)
    if (op.kind === 'put') writes.push(toWireRecord(nodes[op.node]!.put(1, op.key, sealed(serial), 0)))
    else if (op.kind === 'delete' && nodes[op.node]!.list(1).includes(op.key)) writes.push(toWireRecord(nodes[op.node]!.delete(1, op.key)))
    else if (op.kind === 'sync') await nodes[op.to]!.ingest(nodes[op.from]!.snapshot(), canDecrypt)
  }
  return { clock, nodes, writes }
}

/** `items` in the order given by `randoms` (Fisher–Yates), then `extra` duplicates spliced in. */
function deliveryOrder<T>(items: T[], randoms: number[], extra: number[]): T[] {
  const order = [...items]
  for (let index = order.length - 1; index > 0; index--) {
    const other = randoms[index % randoms.length]! % (index + 1)
    ;[order[index], order[other]] = [order[other]!, order[index]!]
  }
  for (const pick of extra) if (items.length > 0) order.splice(pick % (order.length + 1), 0, items[pick % items.length]!)
  return order
}

const arbOrder = fc.record({
  randoms: fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
  extra: fc.array(fc.nat(), { maxLength: 10 }),
})

describe('convergence', () => {
  test('property: any delivery order of the same writes, with duplicates, gives every replica the same values', async () => {
    await fc.assert(
      fc.asyncProperty(arbOps, arbOrder, arbOrder, async (ops, one, two) => {
        const { clock, nodes, writes } = await simulate(ops)
        const replicas = [makeStore({ wallet: C, clock }).store, makeStore({ wallet: C, clock }).store]
        await replicas[0]!.ingest({ 1: deliveryOrder(writes, one.randoms, one.extra) }, canDecrypt)
        await replicas[1]!.ingest({ 1: deliveryOrder(writes, two.randoms, two.extra) }, canDecrypt)
        expect(values(replicas[1]!)).toEqual(values(replicas[0]!))
        // The writers themselves agree with the replicas once every snapshot went everywhere.
        for (let round = 0; round < 2; round++) {
          for (const to of nodes) for (const from of nodes) if (from !== to) await to.ingest(from.snapshot(), canDecrypt)
        }
        for (const node of nodes) expect(values(node)).toEqual(values(replicas[0]!))
      }),
      { numRuns: 150 },
    )
  })

  test('property: ingesting the same data again changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(arbOps, async (ops) => {
        const { nodes, writes } = await simulate(ops)
        const node = nodes[0]!
        await node.ingest({ 1: writes }, canDecrypt)
        const before = node.snapshot()
        const again = await node.ingest({ 1: writes }, canDecrypt)
        expect(again.merged).toBe(0)
        expect(node.snapshot()).toEqual(before)
      }),
      { numRuns: 100 },
    )
  })
})

type SameMsOp =
  | { kind: 'put' | 'delete'; node: number; key: string }
  | { kind: 'sync'; from: number; to: number }
  | { kind: 'deliver'; write: number; to: number }

const arbSameMsOps: fc.Arbitrary<SameMsOp[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('put' as const), node: arbNode, key: arbKey }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), node: arbNode, key: arbKey }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: arbNode, to: arbNode }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('deliver' as const), write: fc.nat(), to: arbNode }) },
  ),
  { minLength: 1, maxLength: 40 },
)

/** R beats S in the §6.6 tie-break: the later `updated_at_ms`, then the bytewise-greater ciphertext. */
const beats = (r: StoreRecord, s: StoreRecord) => r.updatedAtMs > s.updatedAtMs || (r.updatedAtMs === s.updatedAtMs && compareBytes(r.ciphertext, s.ciphertext) > 0)
/** What a record means, without its clock. */
const content = ({ key, value, updated_at_ms, tombstone, ttl_ms }: WireRecord) => JSON.stringify([key, value, updated_at_ms, tombstone, ttl_ms])

describe('same-millisecond writes on three nodes (both README deviations)', () => {
  // The wall clock never moves: every tie is decided by the stamps of rule 2 and the bytes.
  test('property: any interleaving and delivery converges, and a write is lost only to a concurrent write that wins the tie-break', async () => {
    await fc.assert(
      fc.asyncProperty(arbSameMsOps, arbOrder, arbOrder, async (ops, late, fresh) => {
        const clock = new FakeClock()
        const nodes = [A, B, C].map((wallet) => makeStore({ wallet, clock }).store)
        const writes: StoreRecord[] = []
        for (const [serial, op] of ops.entries()) {
          if (op.kind === 'put') writes.push(nodes[op.node]!.put(1, op.key, sealed(serial), 0))
          else if (op.kind === 'delete' && nodes[op.node]!.list(1).includes(op.key)) writes.push(nodes[op.node]!.delete(1, op.key))
          else if (op.kind === 'sync') await nodes[op.to]!.ingest(nodes[op.from]!.snapshot(), canDecrypt)
          else if (op.kind === 'deliver' && writes.length > 0) await nodes[op.to]!.ingest({ 1: [toWireRecord(writes[op.write % writes.length]!)] }, canDecrypt)
        }
        // Every write reaches every node late and in any order, then the stored records go everywhere.
        const wire = writes.map(toWireRecord)
        for (const node of nodes) await node.ingest({ 1: deliveryOrder(wire, late.randoms, late.extra) }, canDecrypt)
        for (let round = 0; round < 2; round++) {
          for (const to of nodes) for (const from of nodes) if (from !== to) await to.ingest(from.snapshot(), canDecrypt)
        }
        // A replica that sees only the original writes agrees too.
        const replica = makeStore({ clock }).store
        await replica.ingest({ 1: deliveryOrder(wire, fresh.randoms, fresh.extra) }, canDecrypt)
        for (const node of [...nodes, replica]) expect(values(node)).toEqual(values(nodes[0]!))

        const held = new Map((nodes[0]!.snapshot()['1'] ?? []).map((r) => [r.key, r]))
        for (const key of ['x', 'y']) {
          const ofKey = writes.filter((w) => w.key === key)
          if (ofKey.length === 0) {
            expect(held.has(key)).toBe(false)
            continue
          }
          const kept = content(held.get(key)!)
          const same = (w: StoreRecord) => content(toWireRecord(w)) === kept
          const holders = ofKey.filter(same) // the write(s) whose content is held (tombstones can share one)
          expect(holders.length).toBeGreaterThan(0)
          for (const other of ofKey.filter((w) => !same(w))) {
            // Superseded by a successor, or displaced by a concurrent write that wins the
            // tie-break; never displaced by its own predecessor (the acknowledged-write loss).
            const fair = holders.some((w) => {
              const order = compareClocks(w.clock, other.clock)
              return order === 'after' || (order === 'concurrent' && beats(w, other))
            })
            expect(fair, `${content(toWireRecord(other))} lost to ${kept}`).toBe(true)
          }
          // Stronger: since rule 2 makes time follow causality, the value kept is the greatest write.
          const greatest = ofKey.reduce((best, w) => (beats(w, best) ? w : best))
          expect(kept).toBe(content(toWireRecord(greatest)))
        }
      }),
      { numRuns: 300 },
    )
  })
})

describe('merge laws in the values kept (conformance 69)', () => {
  const RULES = { nowMs: Number.MAX_SAFE_INTEGER - 15_000, maxClockSkewMs: 15_000, maxValueSizeBytes: 1024, maxAppStorageBytes: 10_485_760 }
  const parsed = (writes: WireRecord[]) => writes.map((w) => parseWireRecord(w, RULES)!)
  const kept = (stored: StoreRecord, incoming: StoreRecord) => mergeRecord(stored, incoming).record
  const value = (record: StoreRecord) => ({ ...view(record), clock: undefined })

  // Records from a simulated history: arbitrary clocks are not enough, since two different
  // records with equal clocks, or timestamps against causality, never come from real nodes.
  test('property: commutative, associative and idempotent', async () => {
    await fc.assert(
      fc.asyncProperty(arbOps, fc.nat(), fc.nat(), fc.nat(), async (ops, i, j, k) => {
        const writes = parsed((await simulate(ops)).writes).filter((w) => w.key === 'x')
        if (writes.length === 0) return
        const [a, b, c] = [i, j, k].map((n) => writes[n % writes.length]!) as [StoreRecord, StoreRecord, StoreRecord]
        expect(mergeRecord(a, a).reason).toBe('ignored_equal_version')
        expect(value(kept(kept(a, b), b))).toEqual(value(kept(a, b)))
        expect(value(kept(kept(a, b), a))).toEqual(value(kept(a, b)))
        expect(value(kept(a, b))).toEqual(value(kept(b, a)))
        expect(value(kept(kept(a, b), c))).toEqual(value(kept(a, kept(b, c))))
      }),
      { numRuns: 300 },
    )
  })
})
