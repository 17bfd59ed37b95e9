/**
 * Deterministic cluster simulation (issue 5 item 5): N real replicas, the real sync tick and
 * sync answer, and a network that drops, delays, duplicates, reorders, times out and
 * partitions, driven by fast-check schedules (`_simulator.ts` says what is modelled). A failure prints fast-check's `seed` and `path`; every schedule
 * that ever failed is kept below as a named regression case.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import type { KvStore } from '../../core/store'
import { checkIngest, checkNoLostWrite, checkProvenance, checkReached, compareReplicas, converged, replicaOf, type Replica } from './_checks'
import { scheduleArbitrary } from './_schedule'
import { canDecryptSim } from './_simValue'
import { SimCluster } from './_simulator'
import { MAX_CLOCK_SKEW_MS, type Schedule, type SimOp } from './_types'

/** Clean rounds allowed after healing; the runs seen so far settle in at most two. */
const MAX_SETTLE_ROUNDS = 4

interface Outcome {
  cluster: SimCluster
  replicas: Replica[]
  rounds: number | undefined
  ingestViolations: string[]
}

/** Runs `schedule`, checking every ingest on the way (§4.3, §6.7), then heals and settles. */
async function runAndSettle(schedule: Schedule, catchUpMs = 0): Promise<Outcome> {
  const ingestViolations: string[] = []
  const cluster = await SimCluster.create(schedule, (event) => ingestViolations.push(...checkIngest(event)))
  await cluster.run(schedule.ops)
  let replicas: Replica[] = []
  const settled = () => {
    replicas = cluster.nodes.map(replicaOf)
    return converged(compareReplicas(replicas))
  }
  const rounds = await cluster.settle({ maxRounds: MAX_SETTLE_ROUNDS, catchUpMs, settled })
  return { cluster, replicas, rounds, ingestViolations }
}

/** Property 1 on a settled run: the ingests were sound, and every replica holds the same data. */
function expectConverged(outcome: Outcome): void {
  expect(outcome.ingestViolations).toEqual([])
  const { values, clocks } = compareReplicas(outcome.replicas)
  expect([...values, ...clocks]).toEqual([])
  expect(outcome.rounds).toBeDefined()
}

/** Property 2 on a settled run; it is judged per content held, so it holds whether or not replicas converged. */
function expectNoLostWrite(outcome: Outcome): void {
  expect(outcome.ingestViolations).toEqual([])
  expect(checkNoLostWrite(outcome.cluster.writes, outcome.replicas)).toEqual([])
  expect(checkProvenance(outcome.cluster.writes, outcome.replicas)).toEqual([])
}

// 14,200 schedules in all: 12 to 25 s on two cores, within the unit project's budget.
const lossy = scheduleArbitrary({ maxOps: 80, skew: 'legal' })
const rogue = scheduleArbitrary({ maxOps: 60, skew: 'rogue' })

describe('cluster simulation: lossy network, legal clock skew', () => {
  test('property: replicas converge once the network heals and clean sync rounds run (§6.6, §6.8)', async () => {
    const seen = { lost: 0, duplicated: 0, pushFailures: 0, tieBreaks: 0, atSkewBound: 0 }
    await fc.assert(
      fc.asyncProperty(lossy, async (schedule) => {
        const outcome = await runAndSettle(schedule)
        expectConverged(outcome)
        const { stats } = outcome.cluster
        seen.lost += stats.lost
        seen.duplicated += stats.duplicated
        seen.pushFailures += stats.pushFailures
        seen.tieBreaks += stats.tieBreaks
        seen.atSkewBound += stats.atSkewBound
      }),
      { numRuns: 4_000 },
    )
    // The schedules did reach the paths the property is about.
    expect(Object.values(seen).every((count) => count > 0)).toBe(true)
  })

  test('property: no acknowledged write is lost unless a concurrent, newer write superseded it (§6.5, §6.6)', async () => {
    await fc.assert(
      fc.asyncProperty(lossy, async (schedule) => {
        expectNoLostWrite(await runAndSettle(schedule))
      }),
      { numRuns: 4_000 },
    )
  })

  test('property: once the network heals, delta pushes alone bring every write everywhere and one value per key (§6.8)', async () => {
    // No snapshot pull after the schedule: per-peer watermarks move only on an answered push,
    // so what a partition, a drop or a timeout held back is pushed again.
    await fc.assert(
      fc.asyncProperty(lossy, async (schedule) => {
        const ingestViolations: string[] = []
        const cluster = await SimCluster.create(schedule, (event) => ingestViolations.push(...checkIngest(event)))
        await cluster.run(schedule.ops)
        cluster.network.heal()
        await cluster.flush()
        // Past every timestamp, so that each record is due in some push window (§6.8 step 2).
        cluster.base.ms += MAX_CLOCK_SKEW_MS + 1_000
        for (let round = 0; round < 2; round++) {
          for (const node of cluster.nodes) {
            cluster.startTick(node)
            await cluster.flush()
          }
          cluster.base.ms += 1_000
        }
        const replicas = cluster.nodes.map(replicaOf)
        expect(ingestViolations).toEqual([])
        expect(checkReached(cluster.writes, replicas)).toEqual([])
        // Clocks agree too: a merge that widens a clock is an own change, journaled and pushed (§6.8).
        const divergence = compareReplicas(replicas)
        expect([...divergence.values, ...divergence.clocks]).toEqual([])
      }),
      { numRuns: 3_000 },
    )
  })
})

describe('cluster simulation: a node beyond MAX_CLOCK_SKEW_MS (§6.7)', () => {
  test('property: its records are rejected and counted until the clocks catch up, then nothing is lost', async () => {
    let rejected = 0
    await fc.assert(
      fc.asyncProperty(rogue, async (schedule) => {
        // checkIngest asserts the exact count: the records more than 15 s ahead, and only those.
        const outcome = await runAndSettle(schedule, Math.max(...schedule.skewsMs))
        expectNoLostWrite(outcome)
        rejected += outcome.cluster.stats.rejected
      }),
      { numRuns: 3_000 },
    )
    expect(rejected).toBeGreaterThan(0)
  })
})

describe('cluster simulation: reproducibility', () => {
  test('property: a schedule replays exactly, so a printed seed reproduces its failure', async () => {
    const replay = async (schedule: Schedule) => {
      const outcome = await runAndSettle(schedule)
      return { stats: outcome.cluster.stats, writes: outcome.cluster.writes, snapshots: outcome.cluster.nodes.map((node) => node.store.snapshot()) }
    }
    await fc.assert(
      fc.asyncProperty(lossy, async (schedule) => {
        expect(await replay(schedule)).toEqual(await replay(schedule))
      }),
      { numRuns: 200 },
    )
  })
})

/** Op shorthands for the hand-written schedules below (app 1, key `a`). */
const put = (node: number, order: number): SimOp => ({ kind: 'put', node, app: 1, key: 'a', order })
const tick = (node: number): SimOp => ({ kind: 'tick', node })
const deliverAll = (count: number): SimOp[] => Array.from({ length: count }, () => ({ kind: 'deliver', pick: 0 }))
const advance = (ms: number): SimOp => ({ kind: 'advance', ms })

/** The `order` of the put whose value a replica holds under `1/a`: it names the write. */
const holder = (replica: Replica): number | undefined => replica.get('1/a')?.ciphertext[5]

describe('cluster simulation: what §6.6 allows, pinned', () => {
  test('behavior: one value won on two replicas under concurrent clocks settles under their join (docs §6.6, full tie)', async () => {
    // Nodes 0 and 2 each hold an older write; node 1's later V beats both, so node 0 stores V
    // with {n0,n1} and node 2 with {n1,n2}. Between them V ties fully. Upstream §6.6 kept each
    // side's clock for good; the project rule stores the join, {n0,n1,n2}, everywhere.
    const schedule: Schedule = {
      nodes: 3,
      skewsMs: [0, 0, 0],
      maxSyncPayloadBytes: 1_048_576,
      ops: [put(0, 1), put(2, 2), advance(1), put(1, 3), tick(1), ...deliverAll(2)],
    }
    const outcome = await runAndSettle(schedule)
    expectConverged(outcome)
    expectNoLostWrite(outcome)
    expect(outcome.replicas.map(holder)).toEqual([3, 3, 3])
    expect(compareReplicas(outcome.replicas).clocks).toEqual([])
    const clocks = outcome.replicas.map((replica) => [...(replica.get('1/a')?.clock.keys() ?? [])].length)
    expect(clocks).toEqual([3, 3, 3])
  })
})

/**
 * Schedules that once failed, each with the seed that found it and the shrunk counterexample
 * fast-check printed. Add every new failure here before fixing anything. A schedule replays
 * exactly under the simulator and store it was found with; after a change to either it may
 * take another path, so the bare-store test below also pins the smallest form of the §6.6 bug.
 */
const REGRESSIONS: { name: string; seed: number; schedule: Schedule }[] = [
  {
    // The oracle was wrong, not the store: two deletes of one ms under concurrent clocks tie
    // fully (§6.6), so each replica keeps its own tombstone. checkNoLostWrite now allows it.
    name: 'concurrent deletes in the same millisecond',
    seed: 1642679049,
    schedule: {
      nodes: 2,
      skewsMs: [0, 0, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 3, app: 1, key: 'é', order: 0 },
        { kind: 'delete', node: 3, app: 1, key: 'é' },
        { kind: 'put', node: 0, app: 1, key: 'é', order: 0 },
        { kind: 'delete', node: 0, app: 1, key: 'é' },
        { kind: 'heal' },
      ],
    },
  },
  {
    // The oracle was wrong again: #1 (node 1, 15 s ahead) is superseded on node 3 by a delete
    // causally after it but earlier by timestamp, which then loses to #4. Nodes 0 and 2 hold #4
    // under a clock that misses #1, nodes 1 and 3 under one that has it: a §6.6 full tie. The
    // oracle now judges one content under the join of its replicas' clocks.
    name: 'a superseded write judged under a full-tie clock',
    seed: 1565165224,
    schedule: {
      nodes: 4,
      skewsMs: [1, 15_000, 0, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 5, app: 2, key: 'b', order: 0 },
        { kind: 'partition', sides: [0, 1, 0, 1, 0] },
        { kind: 'advance', ms: 1 },
        { kind: 'tick', node: 1 },
        { kind: 'deliver', pick: 0 },
        { kind: 'put', node: 6, app: 2, key: 'b', order: 0 },
        { kind: 'delete', node: 3, app: 2, key: 'b' },
        { kind: 'put', node: 0, app: 2, key: 'b', order: 0 },
      ],
    },
  },
  {
    // The oracle was wrong: node 1 overwrote a record that had arrived exactly at the §6.7
    // bound, and the store stamps a write 1 ms after the record it replaces, so node 1's own
    // write was 15 001 ms ahead of it. Pulled back in node 0's snapshot, it was rightly
    // rejected, and checkIngest took the copy node 1 already held for a stored rejected record.
    name: 'an own write beyond the skew echoed back in a snapshot',
    seed: -988627989,
    schedule: {
      nodes: 2,
      skewsMs: [15_000, 0, 0, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 0, app: 2, key: 'b', order: 0 },
        { kind: 'tick', node: 0 },
        { kind: 'deliver', pick: 0 },
        { kind: 'put', node: 3, app: 2, key: 'b', order: 0 },
        { kind: 'rejoin', node: 0, from: 3 },
        { kind: 'rejoin', node: 1, from: 0 },
      ],
    },
  },
  {
    // A store bug, as §6.6 reads: node 0 overwrites its own #2 with #3 in the same ms, and
    // #3's ciphertext is smaller. Node 1 had merged #2 over its #1 with {n0:1,n1:1}; back on
    // node 0 that beat #3 and became #2 with {n0:2,n1:1}, while node 2 merged #3 over #1 into #3
    // with the same {n0:2,n1:1}. Equal clocks, two values, and every later exchange was
    // `ignored_equal_version`. The store's README deviations (equal clocks go to the tie-break;
    // a write is stamped after the record it replaces) fix it.
    name: 'one clock, two values after a same-millisecond overwrite',
    seed: -311362760,
    schedule: {
      nodes: 3,
      skewsMs: [10, 0, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 1, app: 2, key: 'é', order: 0 },
        { kind: 'tick', node: 4 },
        { kind: 'put', node: 0, app: 2, key: 'é', order: 1 },
        { kind: 'rejoin', node: 4, from: 0 },
        { kind: 'put', node: 0, app: 2, key: 'é', order: 0 },
        { kind: 'reorder', pick: 0, other: 0 },
      ],
    },
  },
  {
    // The same store bug with legal skew instead of a shared millisecond: #1 (node 0, 15 s
    // ahead) was causally before #3 but later by timestamp, so #1 and #2 each won a concurrent
    // merge against #3 and ended on nodes 0 and 2 under one full clock.
    name: 'one clock, two values when causality and timestamps disagree',
    seed: -949081873,
    schedule: {
      nodes: 3,
      skewsMs: [15_000, 1_001, 0, 0],
      maxSyncPayloadBytes: 400,
      ops: [
        { kind: 'put', node: 0, app: 2, key: 'b', order: 0 },
        { kind: 'partition', sides: [0, 1, 0, 0] },
        { kind: 'tick', node: 0 },
        { kind: 'heal' },
        { kind: 'deliver', pick: 0 },
        { kind: 'put', node: 1, app: 2, key: 'b', order: 0 },
        { kind: 'tick', node: 4 },
        { kind: 'put', node: 5, app: 2, key: 'b', order: 0 },
        { kind: 'tick', node: 2 },
        { kind: 'tick', node: 0 },
        { kind: 'heal' },
      ],
    },
  },
]

describe('cluster simulation: regressions', () => {
  test.each(REGRESSIONS)('behavior: $name (seed $seed) converges without loss', async ({ schedule }) => {
    const outcome = await runAndSettle(schedule)
    expectNoLostWrite(outcome)
    expectConverged(outcome)
  })

  test('behavior: three stores, one millisecond: no two replicas keep different values under one clock (§6.6)', async () => {
    // The smallest form of the §6.6 bug behind two regressions above, on bare KvStores.
    // Bytewise #1 < #3 < #2, all written at t0 with no skew.
    const cluster = await SimCluster.create({ nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    const [a, b, c] = cluster.nodes.map((node) => node.store) as [KvStore, KvStore, KvStore]
    const wire = (store: KvStore) => JSON.parse(JSON.stringify(store.snapshot())) as unknown
    cluster.put(cluster.node(1), 1, 'a', 0x10) // #1 on B: {B:1}
    const first = wire(b)
    cluster.put(cluster.node(0), 1, 'a', 0x30) // #2 on A: {A:1}
    await b.ingest(wire(a), canDecryptSim) // B: #2 beats #1, stored with {A:1,B:1}
    cluster.put(cluster.node(0), 1, 'a', 0x20) // #3 on A over its own #2: {A:2}
    await c.ingest(first, canDecryptSim) // C: #1
    await c.ingest(wire(a), canDecryptSim) // C: #3 beats #1, stored with {A:2,B:1}
    await a.ingest(wire(b), canDecryptSim) // A, as §6.6 reads: #2 beats #3, stored with {A:2,B:1}
    for (let round = 0; round < 2; round++) {
      for (const to of [a, b, c]) for (const from of [a, b, c]) if (to !== from) await to.ingest(wire(from), canDecryptSim)
    }
    expect(converged(compareReplicas(cluster.nodes.map(replicaOf)))).toBe(true)
    expect(checkNoLostWrite(cluster.writes, cluster.nodes.map(replicaOf))).toEqual([])
  })

  test("behavior: a write made on top of R survives a third node's concurrent merge of R (§6.6, legal skew)", async () => {
    // Node 2 runs 10 s ahead (legal, §6.7) and writes R. Node 1 receives R, and two seconds
    // later a client overwrites it there with W, causally after R. Node 0 had an older write S,
    // so it stored R with {n0,n2}: concurrent with W's {n1,n2}. Stamped with its own clock
    // (§6.2 `now_ms`), W was 8 s "older" than R and lost to it everywhere once replicas
    // settled, although the client had read R before writing W. Found by this simulator; the
    // store now stamps a write after the record it replaces (README deviation).
    const run = async (withS: boolean) => {
      const ops = [...(withS ? [put(0, 1)] : []), put(2, 2), tick(2), ...deliverAll(2), advance(2_000), put(1, 3), tick(1), ...deliverAll(2)]
      const outcome = await runAndSettle({ nodes: 3, skewsMs: [0, 0, 10_000], maxSyncPayloadBytes: 1_048_576, ops })
      expectConverged(outcome)
      expectNoLostWrite(outcome)
      return outcome.replicas.map(holder)
    }
    expect(await run(false)).toEqual([3, 3, 3])
    expect(await run(true)).toEqual([3, 3, 3])
  })
})
