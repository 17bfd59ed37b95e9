import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { Wallet } from '../../../core/encoding'
import { mergeRecord, parseWireRecord, toWireRecord, type KvStore, type StoreRecord, type WireRecord } from '../../../core/store'
import { A, B, C, FakeClock, T0, canDecrypt, makeStore, view } from './_helpers'

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

describe('same-millisecond writes (a limit of §6.6, kept as specified)', () => {
  test('behavior: replicas fed only the original writes can disagree until they exchange stored records', async () => {
    // x by A; y by B after seeing x, in the same ms, with a smaller ciphertext; z by C, concurrent.
    const write = (wallets: Partial<Record<Wallet, number>>, fill: number): WireRecord => ({
      key: 'k', value: fill.toString(16).padStart(2, '0').repeat(28), version: wallets as Record<Wallet, number>, updated_at_ms: T0, tombstone: false, ttl_ms: 0,
    })
    const x = write({ [A]: 1 }, 0xff)
    const y = write({ [A]: 1, [B]: 1 }, 0x00)
    const z = write({ [C]: 1 }, 0x80)
    const first = makeStore().store
    const second = makeStore().store
    await first.ingest({ 1: [x, y, z] }, canDecrypt)
    await second.ingest({ 1: [z, x, y] }, canDecrypt)
    expect(values(first)[0]?.value).toBe('80'.repeat(28))
    expect(values(second)[0]?.value).toBe('ff'.repeat(28))
    // The stored clocks carry what each replica has seen, so one exchange settles it.
    await second.ingest(first.snapshot(), canDecrypt)
    await first.ingest(second.snapshot(), canDecrypt)
    expect(values(second)).toEqual(values(first))
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

describe('merge laws in the values kept (conformance 69)', () => {
  const RULES = { nowMs: Number.MAX_SAFE_INTEGER - 15_000, maxClockSkewMs: 15_000, maxValueSizeBytes: 1024 }
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
