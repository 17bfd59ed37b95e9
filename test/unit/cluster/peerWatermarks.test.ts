/**
 * `PeerWatermarks` (PROTOCOL §6.8 "relay without echo", §4.3 relay fields): the journal's
 * memory bound, echo suppression, acknowledgements, malformed relay fields, and the
 * `refused_ahead_from_ms` rewind, on real `KvStore`s and `answerSync`.
 */
import { describe, expect, test } from 'vitest'
import { answerSync } from '../../../core/cluster'
import { PeerWatermarks, RELAY_DELAY_TICKS, type PeerPlan } from '../../../core/cluster/peerWatermarks'
import type { Wallet } from '../../../core/encoding'
import { KvStore, type WireData } from '../../../core/store'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

const A = '0x00000000000000000000000000000000000000a1' as Wallet
const B = '0x00000000000000000000000000000000000000b2' as Wallet
const C = '0x00000000000000000000000000000000000000c3' as Wallet
const T0 = 1_767_225_600_000
const SKEW = 15_000

const canDecrypt = async (): Promise<boolean> => true
const value = (byte: number) => new Uint8Array(28).fill(byte)

function replica(wallet: Wallet, clock: FakeClock, skewMs = 0) {
  const own = { nowMs: () => clock.ms + skewMs }
  const store = new KvStore({
    clock: own,
    nodeWallet: () => wallet,
    limits: { maxAppStorageBytes: 1 << 20, maxValueSizeBytes: 1024, tombstoneRetentionMs: 86_400_000, maxTombstonesPerApp: 100, maxClockSkewMs: SKEW },
  })
  return { wallet, store, clock: own, watermarks: new PeerWatermarks() }
}
type Replica = ReturnType<typeof replica>

const context = (to: Replica, from: Replica, all: readonly Replica[]) => ({
  store: to.store,
  canDecrypt,
  sealSecretFor: () => Promise.reject(new Error('unused')),
  random: seededRandom(1),
  relay: { sender: from.wallet, watermarks: to.watermarks, cached: new Set(all.map((node) => node.wallet)) },
})

/** One tick of `from`: every body to every peer answered by the peer's real `answerSync`; returns the records each took. */
async function tick(from: Replica, all: readonly Replica[], reachable: (to: Replica) => boolean = () => true): Promise<Map<Wallet, number>> {
  const peers = all.filter((node) => node !== from)
  const plans = from.watermarks.plan({ store: from.store, peers: peers.map((peer) => peer.wallet), maxBodyBytes: 1 << 20, nowMs: from.clock.nowMs() })
  const taken = new Map<Wallet, number>()
  for (const peer of peers) {
    const plan: PeerPlan = plans.get(peer.wallet)!
    if (!reachable(peer)) continue
    let records = 0
    for (const body of plan.bodies) {
      const payload = JSON.parse(JSON.stringify({ type: 'delta', sender_wallet: from.wallet, ...body.fields, data: body.data })) as Record<string, unknown>
      const answer = await answerSync(payload, context(peer, from, all))
      records += answer['total'] as number
      plan.answered(body, answer)
    }
    plan.commit()
    taken.set(peer.wallet, records)
  }
  return taken
}

async function round(all: readonly Replica[], clock: FakeClock): Promise<Map<Wallet, Map<Wallet, number>>> {
  clock.ms += 1_000
  const sent = new Map<Wallet, Map<Wallet, number>>()
  for (const node of all) sent.set(node.wallet, await tick(node, all))
  return sent
}

describe('PeerWatermarks (§6.8)', () => {
  test('behavior: a write goes once to each peer, never back, and the journal then empties (the memory bound)', async () => {
    const clock = new FakeClock(T0)
    const all = [replica(A, clock), replica(B, clock), replica(C, clock)]
    await round(all, clock) // first contacts
    for (let index = 0; index < 50; index++) all[0]!.store.put(1, `k${index}`, value(index), 0)
    const first = await round(all, clock)
    expect(first.get(A)).toEqual(new Map([[B, 50], [C, 50]]))
    for (let index = 0; index < RELAY_DELAY_TICKS + 2; index++) {
      const sent = await round(all, clock)
      expect([...sent.values()].flatMap((peers) => [...peers.values()]).reduce((total, records) => total + records, 0)).toBe(0)
    }
    for (const node of all) {
      expect(node.store.stats().total_keys).toBe(50)
      expect(node.watermarks.journalSize).toBe(0)
    }
  })

  test('behavior: without the writer\'s acknowledgement (it cannot reach C), B relays after RELAY_DELAY_TICKS, and only then', async () => {
    const clock = new FakeClock(T0)
    const [a, b, c] = [replica(A, clock), replica(B, clock), replica(C, clock)]
    const all = [a, b, c]
    await round(all, clock)
    a.store.put(1, 'k', value(7), 0)
    clock.ms += 1_000
    await tick(a, all, (to) => to !== c)
    const relays: number[] = []
    for (let index = 0; index < RELAY_DELAY_TICKS; index++) {
      relays.push((await tick(b, all)).get(C) ?? 0)
      clock.ms += 1_000
    }
    expect(relays).toEqual([...Array.from({ length: RELAY_DELAY_TICKS - 1 }, () => 0), 1])
    expect(c.store.get(1, 'k').ciphertext).toEqual(value(7))
  })

  test('error: malformed relay fields are ignored, never refused: the records merge and are relayed as from an old peer', async () => {
    const clock = new FakeClock(T0)
    const [a, b, c] = [replica(A, clock), replica(B, clock), replica(C, clock)]
    const all = [a, b, c]
    await round(all, clock)
    a.store.put(1, 'k', value(1), 0)
    const data = a.store.snapshot()
    for (const fields of [{ stream: 7, stamp: -1, acks: [1] }, { stream: 'x'.repeat(65), stamp: 1.5, acks: { [C]: 'all' } }, { stream: 's', stamp: 1, acks: { [C]: 1e300 } }]) {
      const answer = await answerSync({ type: 'delta', sender_wallet: A, ...fields, data }, context(b, a, all))
      expect(answer).toMatchObject({ status: 'ok', total: 1, rejected: 0 })
    }
    // No acknowledgement could be read for C: B relays once the delay is over.
    let relayed = 0
    for (let index = 0; index <= RELAY_DELAY_TICKS; index++) {
      clock.ms += 1_000
      relayed += (await tick(b, all)).get(C) ?? 0
    }
    expect(relayed).toBe(1)
  })

  test('behavior: a record refused as too far ahead is named by refused_ahead_from_ms and pushed again until taken (§6.7)', async () => {
    const clock = new FakeClock(T0)
    const [a, b] = [replica(A, clock, SKEW + 3_000), replica(B, clock)]
    const all = [a, b]
    await round(all, clock)
    a.store.put(1, 'early', value(1), 0)
    clock.ms += 1_500
    a.store.put(1, 'late', value(2), 0)
    const data: WireData = a.store.snapshot()
    const answer = await answerSync({ type: 'delta', sender_wallet: A, data }, context(b, a, all))
    expect(answer).toMatchObject({ rejected: 2, refused_ahead_from_ms: T0 + 1_000 + SKEW + 3_000 })
    const taken: number[] = []
    for (let index = 0; index < 5; index++) {
      clock.ms += 1_000
      await tick(a, all)
      taken.push(b.store.list(1).length)
    }
    // 18 s ahead when written, 1.5 s apart: each is taken at the first push within 15 s of B's clock.
    expect(taken).toEqual([0, 1, 2, 2, 2])
  })
})

describe('local writes journaled as they are made (§6.8 "A clock moved back")', () => {
  /** A put on `a` stamped 60 s back, after which a's clock returns before its next tick. */
  async function writeBehindTheWindow(journal: boolean): Promise<number> {
    const clock = new FakeClock(T0)
    const a = replica(A, clock)
    const b = replica(B, clock)
    const all = [a, b]
    a.store.put(1, 'before', value(1), 0)
    await round(all, clock)
    await round(all, clock)
    clock.ms -= 60_000 // the host moves the clock back…
    const record = a.store.put(1, 'behind', value(2), 0)
    if (journal) a.watermarks.wroteLocally(1, record)
    clock.ms += 60_000 + 1_000 // …and forward again before a's next tick
    return (await tick(a, all)).get(B)!
  }

  test('behavior: the write reaches the peer', async () => {
    expect(await writeBehindTheWindow(true)).toBe(1)
  })

  test('behavior: the control: found by the scan alone, it would stay on its node', async () => {
    expect(await writeBehindTheWindow(false)).toBe(0)
  })
})
