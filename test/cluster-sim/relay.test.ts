/**
 * The cluster simulation of PROTOCOL §6.8's relays and §6.7's clock-skew bound (issue 14):
 * non-transitive partitions that change over time, clocks apart within and beyond
 * MAX_CLOCK_SKEW_MS and moved by the host mid-run, and what a fault-free mesh transfers.
 * Unlike simulation.test.ts, nothing here settles by snapshot pulls: after the schedule, only
 * delta pushes run, on a network that may still be partitioned, so every write must travel by
 * pushes and relays alone.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { RELAY_DELAY_TICKS } from '../../core/cluster/peerWatermarks'
import { checkIngest, checkNoLostWrite, checkProvenance, checkReached, compareReplicas, converged, replicaOf } from './_checks'
import { scheduleArbitrary } from './_schedule'
import { SimCluster } from './_simulator'
import { MAX_CLOCK_SKEW_MS, type Schedule, type SimOp } from './_types'

/** Enough delta rounds for a relay along a path of 5 nodes, each hop waiting RELAY_DELAY_TICKS. */
const DELTA_ROUNDS = 5 * (RELAY_DELAY_TICKS + 1)

interface Run {
  cluster: SimCluster
  ingestViolations: string[]
  transfers: { node: number; merged: number; skipped: number; rejected: number }[]
}

async function runSchedule(schedule: Schedule): Promise<Run> {
  const ingestViolations: string[] = []
  const transfers: Run['transfers'] = []
  const cluster = await SimCluster.create(schedule, (event) => {
    ingestViolations.push(...checkIngest(event))
    if (event.via === 'delta') transfers.push({ node: event.node.index, ...event.counts })
  })
  await cluster.run(schedule.ops)
  return { cluster, ingestViolations, transfers }
}

/** Every acknowledged write reached every node, one value per key, clocks agreeing (§6.6 full ties aside). */
function expectDeltaConvergence(run: Run): void {
  const replicas = run.cluster.nodes.map(replicaOf)
  expect(run.ingestViolations).toEqual([])
  expect(checkReached(run.cluster.writes, replicas)).toEqual([])
  expect(checkNoLostWrite(run.cluster.writes, replicas)).toEqual([])
  expect(checkProvenance(run.cluster.writes, replicas)).toEqual([])
  const divergence = compareReplicas(replicas)
  expect([...divergence.values, ...divergence.clocks]).toEqual([])
  expect(converged(divergence)).toBe(true)
}

/** A connected graph on `nodes` that is not complete: a path in the given order plus chosen chords. */
function connectedTopology(nodes: number, order: readonly number[], chords: readonly boolean[]): SimOp[] {
  const path = new Set<string>()
  for (let index = 1; index < order.length; index++) {
    const [a, b] = [order[index - 1]!, order[index]!]
    path.add(a < b ? `${a}:${b}` : `${b}:${a}`)
  }
  const ops: SimOp[] = [{ kind: 'heal' }]
  let chord = 0
  for (let a = 0; a < nodes; a++) {
    for (let b = a + 1; b < nodes; b++) {
      if (path.has(`${a}:${b}`)) continue
      // The first non-path link is always cut, so the topology is never a full mesh.
      if (chord === 0 || chords[chord % chords.length] !== true) ops.push({ kind: 'cut', a, b })
      chord++
    }
  }
  return ops
}

const topologyArbitrary = fc.integer({ min: 3, max: 5 }).chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    order: fc.shuffledSubarray(Array.from({ length: nodes }, (_, index) => index), { minLength: nodes, maxLength: nodes }),
    chords: fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
  }),
)

describe('cluster simulation: non-transitive partitions (§6.8 relays)', () => {
  test('property: links that go down and up over time, then a connected but non-transitive network: delta pushes alone bring every acknowledged write everywhere', async () => {
    const schedules = scheduleArbitrary({ maxOps: 70, skew: 'legal', links: true })
    let relayedAcross = 0
    await fc.assert(
      fc.asyncProperty(schedules, topologyArbitrary, async (generated, topology) => {
        const schedule: Schedule = { ...generated, nodes: topology.nodes }
        const run = await runSchedule(schedule)
        // The network never heals: some pair of nodes can only talk through a third.
        await run.cluster.run(connectedTopology(topology.nodes, topology.order, topology.chords))
        run.cluster.base.ms += MAX_CLOCK_SKEW_MS + 1_000
        await run.cluster.deltaRounds(DELTA_ROUNDS)
        expectDeltaConvergence(run)
        relayedAcross += run.cluster.writes.length > 0 ? 1 : 0
      }),
      { numRuns: 600 },
    )
    expect(relayedAcross).toBeGreaterThan(0)
  })

  test('regression (seed -240746412): a full tie meets a wider clock on a 5-node path; the joined clock still travels the whole path', async () => {
    // Node 2, 15 s ahead, writes last by time; nodes 0, 3 and 4 merge it over their own
    // writes into three concurrent clocks. Node 0's {0,2,4} reached node 3's {2,3} only as a
    // full tie, which upstream §6.6 kept as it was, so it never went further along 3–2–4–1 and
    // nodes 1 and 4 kept {2,4}, a clock behind node 0's. Joined on the tie, all settle on one.
    const schedule: Schedule = {
      nodes: 5,
      skewsMs: [0, 0, MAX_CLOCK_SKEW_MS, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 2, app: 1, key: 'é', order: 0 },
        { kind: 'put', node: 0, app: 1, key: 'é', order: 0 },
        { kind: 'put', node: 4, app: 1, key: 'é', order: 0 },
        { kind: 'put', node: 3, app: 1, key: 'é', order: 0 },
        { kind: 'tick', node: 4 },
        { kind: 'deliver', pick: 0 },
      ],
    }
    const run = await runSchedule(schedule)
    await run.cluster.run(connectedTopology(5, [1, 4, 2, 3, 0], [false, true]))
    run.cluster.base.ms += MAX_CLOCK_SKEW_MS + 1_000
    await run.cluster.deltaRounds(DELTA_ROUNDS)
    expectDeltaConvergence(run)
    expect(run.cluster.nodes.map((node) => replicaOf(node).get('1/é')?.clock.size)).toEqual([4, 4, 4, 4, 4])
  })

  test('behavior: A–B and B–C up, A–C down: B relays A\'s write to C once its delay has passed, and never back to A', async () => {
    const schedule: Schedule = { nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] }
    const run = await runSchedule(schedule)
    await run.cluster.deltaRounds(1) // first contacts, on an empty store
    run.transfers.length = 0
    await run.cluster.run([{ kind: 'cut', a: 0, b: 2 }, { kind: 'put', node: 0, app: 1, key: 'a', order: 1 }])
    await run.cluster.deltaRounds(RELAY_DELAY_TICKS + 1)
    expectDeltaConvergence(run)
    const records = (node: number) => run.transfers.filter((transfer) => transfer.node === node).reduce((total, transfer) => total + transfer.merged + transfer.skipped + transfer.rejected, 0)
    expect([records(0), records(1), records(2)]).toEqual([0, 1, 1])
  })

  test('behavior: C took A\'s write directly and A acknowledged it: B never relays it; the link A–C breaks later and nothing is missing', async () => {
    const schedule: Schedule = { nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] }
    const run = await runSchedule(schedule)
    await run.cluster.deltaRounds(1)
    run.transfers.length = 0
    await run.cluster.run([{ kind: 'put', node: 0, app: 1, key: 'a', order: 1 }])
    await run.cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
    await run.cluster.run([{ kind: 'cut', a: 0, b: 2 }, { kind: 'put', node: 0, app: 1, key: 'b', order: 2 }])
    await run.cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
    expectDeltaConvergence(run)
    // `a` went A→B and A→C once each; `b` A→B, then B→C once the link was gone.
    expect(run.transfers.reduce((total, transfer) => total + transfer.merged + transfer.skipped, 0)).toBe(4)
    expect(run.transfers.reduce((total, transfer) => total + transfer.skipped, 0)).toBe(0)
  })

  test('behavior: A\'s push to C is lost and A then goes silent: B relays it anyway (an acknowledgement only ever suppresses)', async () => {
    const schedule: Schedule = { nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] }
    const run = await runSchedule(schedule)
    await run.cluster.deltaRounds(1)
    const { cluster } = run
    await cluster.run([{ kind: 'put', node: 0, app: 1, key: 'a', order: 1 }, { kind: 'tick', node: 0 }])
    // In flight: A→B and A→C. Deliver the first, lose the one to C, then cut A off entirely.
    const toC = cluster.network.inFlight.findIndex((message) => message.to === 2)
    await cluster.run([{ kind: 'drop', pick: toC }, { kind: 'deliver', pick: 0 }, { kind: 'cut', a: 0, b: 1 }, { kind: 'cut', a: 0, b: 2 }])
    await cluster.deltaRounds(RELAY_DELAY_TICKS + 1)
    expect(replicaOf(cluster.node(2)).has('1/a')).toBe(true)
    await cluster.run([{ kind: 'heal' }])
    await cluster.deltaRounds(2)
    expectDeltaConvergence(run)
  })
})

/** Rounds in which every node writes fresh keys (no two writes share a key) and then every node ticks. */
const meshArbitrary = fc.record({
  nodes: fc.integer({ min: 2, max: 5 }),
  rounds: fc.array(
    fc.record({
      writes: fc.array(fc.record({ node: fc.nat({ max: 9 }), app: fc.constantFrom(1, 2) }), { maxLength: 6 }),
      order: fc.nat({ max: 119 }),
      advanceMs: fc.integer({ min: 1, max: 3_000 }),
    }),
    { minLength: 1, maxLength: 12 },
  ),
  maxSyncPayloadBytes: fc.constantFrom(400, 1_500, 1_048_576),
})

describe('cluster simulation: what a fault-free full mesh transfers (§6.8)', () => {
  test('property: each acknowledged write reaches each other node exactly once (n−1 record transfers per write: no echo, no second relay)', async () => {
    let writes = 0
    await fc.assert(
      fc.asyncProperty(meshArbitrary, async ({ nodes, rounds, maxSyncPayloadBytes }) => {
        const run = await runSchedule({ nodes, skewsMs: [0, 0, 0, 0, 0], maxSyncPayloadBytes, ops: [] })
        const { cluster } = run
        await cluster.deltaRounds(1) // first contacts on empty stores, as a started cluster has done
        let next = 0
        for (const round of rounds) {
          for (const write of round.writes) cluster.put(cluster.node(write.node), write.app, `k${next++}`, round.order)
          // Every node ticks once per round, in an order that varies, each push delivered at once.
          cluster.base.ms += round.advanceMs
          for (let index = 0; index < nodes; index++) {
            cluster.startTick(cluster.node(index + round.order))
            await cluster.flush()
          }
        }
        await cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
        expectDeltaConvergence(run)
        const records = run.transfers.reduce((total, transfer) => total + transfer.merged + transfer.skipped + transfer.rejected, 0)
        expect(run.transfers.every((transfer) => transfer.skipped === 0 && transfer.rejected === 0)).toBe(true)
        expect(records).toBe(cluster.writes.length * (nodes - 1))
        writes += cluster.writes.length
      }),
      { numRuns: 400 },
    )
    expect(writes).toBeGreaterThan(0)
  })
})

describe('cluster simulation: clock skew (§6.7 MAX_CLOCK_SKEW_MS)', () => {
  test('behavior: a record more than MAX_CLOCK_SKEW_MS ahead is refused and stays on its writer; it is pushed again and taken once the receivers catch up', async () => {
    const ahead = MAX_CLOCK_SKEW_MS + 5_000
    const run = await runSchedule({ nodes: 3, skewsMs: [ahead, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    const { cluster } = run
    await cluster.deltaRounds(1)
    cluster.put(cluster.node(0), 1, 'a', 1)
    await cluster.deltaRounds(3)
    expect(cluster.stats.rejected).toBe(2 * 3) // refused by both receivers, every round so far
    expect([1, 2].map((index) => replicaOf(cluster.node(index)).has('1/a'))).toEqual([false, false])
    await cluster.deltaRounds(3) // 6 s in all: the write is now within 15 s of the receivers' clocks
    expectDeltaConvergence(run)
  })

  test('behavior: within MAX_CLOCK_SKEW_MS nothing is refused; exactly at the bound is still taken', async () => {
    const run = await runSchedule({ nodes: 3, skewsMs: [MAX_CLOCK_SKEW_MS, 0, 7_000], maxSyncPayloadBytes: 1_048_576, ops: [] })
    const { cluster } = run
    await cluster.deltaRounds(1)
    cluster.put(cluster.node(0), 1, 'a', 1)
    cluster.put(cluster.node(2), 1, 'b', 2)
    cluster.base.ms -= 1_000 // the next round's step lands the push exactly MAX_CLOCK_SKEW_MS ahead of node 1
    await cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
    expect(cluster.stats.rejected).toBe(0)
    expect(cluster.stats.atSkewBound).toBeGreaterThan(0)
    expectDeltaConvergence(run)
  })

  test('behavior: the host moves a node\'s clock back by 40 s mid-run: what it then refuses reaches it once its clock has caught up', async () => {
    const run = await runSchedule({ nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    const { cluster } = run
    await cluster.deltaRounds(1)
    await cluster.run([{ kind: 'shift', node: 2, ms: -40_000 }, { kind: 'put', node: 0, app: 1, key: 'a', order: 1 }, { kind: 'put', node: 2, app: 1, key: 'b', order: 2 }])
    await cluster.deltaRounds(3)
    expect(cluster.stats.rejected).toBeGreaterThan(0)
    expect(replicaOf(cluster.node(2)).has('1/a')).toBe(false)
    // Its own write, stamped by the moved clock, is 40 s "old" but never refused by the others.
    expect([0, 1].map((index) => replicaOf(cluster.node(index)).has('1/b'))).toEqual([true, true])
    await cluster.run([{ kind: 'shift', node: 2, ms: 40_000 }])
    await cluster.deltaRounds(2)
    expectDeltaConvergence(run)
  })

  test('property: skews within and beyond the bound, clocks moved mid-run, lossy links: once the clocks are within the bound again, delta pushes alone converge', async () => {
    const schedules = fc.oneof(
      scheduleArbitrary({ maxOps: 60, skew: 'legal', links: true, shifts: true }),
      scheduleArbitrary({ maxOps: 60, skew: 'rogue', links: true, shifts: true }),
    )
    let rejected = 0
    await fc.assert(
      fc.asyncProperty(schedules, async (schedule) => {
        const run = await runSchedule(schedule)
        const { cluster } = run
        // The host puts every clock back within the bound (a skew of 0..MAX), and the network heals.
        for (const [index, node] of cluster.nodes.entries()) node.clock.skewMs = (index * 3_001) % MAX_CLOCK_SKEW_MS
        cluster.network.heal()
        // Past every timestamp written under any skew, so that nothing is still too far ahead.
        const latest = Math.max(cluster.base.ms, ...cluster.writes.map((write) => write.updatedAtMs))
        cluster.base.ms = latest + 1_000
        await cluster.deltaRounds(RELAY_DELAY_TICKS + 3)
        expectDeltaConvergence(run)
        rejected += cluster.stats.rejected
      }),
      { numRuns: 800 },
    )
    expect(rejected).toBeGreaterThan(0)
  })
})
