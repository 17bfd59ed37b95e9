/**
 * The cluster simulation of a key rotation (PROTOCOL §7.7, §6.10) in the middle of random
 * traffic: nodes install the new epoch one by one, and until they do they write under the old
 * one and refuse the new one's values (§6.7); each re-encrypts its own store in small batches at
 * random times, some steps failing and some overtaken by writes, deletes and merges, over lossy,
 * partitioned links. After the schedule every node holds the new epoch and finishes, the network
 * heals, and clean rounds (a `sync_tick` per node, then snapshot pulls) run. Throughout, no
 * ingest takes a replica back to an older epoch's copy of a write it held re-encrypted. Then:
 * (a) no acknowledged write is lost, and each node reads, under the record's own epoch, the value
 *     of the causally latest write of every key;
 * (b) the replicas agree byte for byte (the re-encryption is deterministic, `_simValue.ts`);
 * (c) no record is left below the new epoch, so retiring the old one drops nothing.
 * A failure prints fast-check's `seed` and `path`.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { KmsError } from '../../core/errors'
import { RELAY_DELAY_TICKS } from '../../core/cluster/peerWatermarks'
import { checkIngest, checkNoEpochRegression, checkNoLostWrite, checkProvenance, compareReplicas, converged, relate, replicaOf, type Replica } from './_checks'
import { scheduleArbitrary } from './_schedule'
import { canDecryptSim, openSimValue } from './_simValue'
import { SimCluster, type SimNode } from './_simulator'
import { ROTATION_EPOCH, type AckedWrite, type Schedule } from './_types'

/** Batches stay small after the schedule too, so a store takes several to finish. */
const FINISH_BATCH = 3
/** Re-encrypt everything, then one clean round; the runs seen so far settle in one or two. */
const MAX_FINISH_ROUNDS = 4

interface Outcome {
  cluster: SimCluster
  replicas: Replica[]
  rounds: number | undefined
  ingestViolations: string[]
}

async function runRotation(schedule: Schedule): Promise<Outcome> {
  const ingestViolations: string[] = []
  const cluster = await SimCluster.create(schedule, (event) => ingestViolations.push(...checkIngest(event), ...checkNoEpochRegression(event)))
  await cluster.run(schedule.ops)
  // The rotation completes: every node has fetched the new epoch (§7.7 item 3).
  for (const node of cluster.nodes) node.reencryption.keyEpochs.add(ROTATION_EPOCH)
  let replicas: Replica[] = []
  let rounds: number | undefined
  for (let round = 1; round <= MAX_FINISH_ROUNDS && rounds === undefined; round++) {
    cluster.network.heal()
    await cluster.flush()
    await cluster.drainReencryption(FINISH_BATCH)
    await cluster.settle({ maxRounds: 1, settled: () => true })
    replicas = cluster.nodes.map(replicaOf)
    const done = cluster.nodes.every((node) => node.store.recordsBelowEpoch(ROTATION_EPOCH) === 0)
    if (done && converged(compareReplicas(replicas))) rounds = round
  }
  return { cluster, replicas, rounds, ingestViolations }
}

/**
 * (a), read side: for each key whose acknowledged writes have one causally latest (§6.5: every
 * other write's clock happened-before its own), every node reads that write, decrypting under
 * the key epoch its record names (`canDecrypt`), or finds the key deleted.
 */
async function checkLatestReads(writes: readonly AckedWrite[], nodes: readonly SimNode[]): Promise<string[]> {
  const violations: string[] = []
  const bySlot = new Map<string, AckedWrite[]>()
  for (const write of writes) bySlot.set(`${write.appId}/${write.key}`, [...(bySlot.get(`${write.appId}/${write.key}`) ?? []), write])
  for (const [slot, slotWrites] of bySlot) {
    const latest = slotWrites.find((candidate) => slotWrites.every((other) => other === candidate || relate(other.clock, candidate.clock) === 'before'))
    if (latest === undefined) continue // concurrent writes: checkNoLostWrite judges them
    for (const node of nodes) {
      let read: { writeId: number | undefined; decrypts: boolean } | 'deleted'
      try {
        const record = node.store.get(latest.appId, latest.key)
        read = { writeId: openSimValue(record.ciphertext)?.writeId, decrypts: await canDecryptSim(latest.appId, record.ciphertext, record.keyEpoch) }
      } catch (error) {
        if (!(error instanceof KmsError) || error.code !== 'not_found') throw error
        read = 'deleted'
      }
      const expected = latest.tombstone ? 'deleted' : `write #${latest.id}`
      const got = read === 'deleted' ? 'deleted' : read.decrypts ? `write #${read.writeId}` : `a value that does not open under its epoch`
      if (got !== expected) violations.push(`node ${node.index} reads ${slot} as ${got}, the latest acknowledged is ${expected}`)
    }
  }
  return violations
}

describe('cluster simulation: a key rotation amid traffic, partitions and lossy links (§7.7, §6.10)', () => {
  test('property: nothing acknowledged is lost, replicas agree byte for byte, and nothing is left below the new epoch', async () => {
    const seen = { reencrypted: 0, discarded: 0, failures: 0, refusedEpoch: 0, oldAfterNew: 0, runsWithBoth: 0 }
    await fc.assert(
      fc.asyncProperty(scheduleArbitrary({ maxOps: 100, skew: 'legal', links: true, rotation: true }), async (schedule) => {
        const outcome = await runRotation(schedule)
        const { cluster, replicas } = outcome
        expect(outcome.ingestViolations).toEqual([])
        // (a)
        expect(checkNoLostWrite(cluster.writes, replicas)).toEqual([])
        expect(checkProvenance(cluster.writes, replicas)).toEqual([])
        expect(await checkLatestReads(cluster.writes, cluster.nodes)).toEqual([])
        // (b)
        const divergence = compareReplicas(replicas)
        expect([...divergence.values, ...divergence.clocks]).toEqual([])
        // Every wire byte but the clocks, which §6.6 full ties may leave concurrent (simulation.test.ts pins that).
        const wire = (node: SimNode) => JSON.stringify(Object.entries(node.store.snapshot()).map(([app, group]) => [app, group.map((record) => ({ ...record, version: undefined }))]))
        expect(new Set(cluster.nodes.map(wire)).size).toBe(1)
        // (c)
        expect(cluster.nodes.map((node) => node.store.recordsBelowEpoch(ROTATION_EPOCH))).toEqual(cluster.nodes.map(() => 0))
        for (const replica of replicas) for (const record of replica.values()) expect(record.tombstone ? 0 : record.keyEpoch).toBe(record.tombstone ? 0 : ROTATION_EPOCH)
        expect(cluster.nodes.map((node) => node.store.dropRecordsBelowEpoch(ROTATION_EPOCH))).toEqual(cluster.nodes.map(() => 0))
        expect(outcome.rounds).toBeDefined()

        const { stats, writes } = cluster
        seen.reencrypted += stats.reencrypted
        seen.discarded += stats.discarded
        seen.failures += stats.reencryptFailures
        seen.refusedEpoch += stats.rejected
        const firstNew = writes.find((write) => write.keyEpoch === ROTATION_EPOCH)
        const oldAfter = firstNew === undefined ? 0 : writes.filter((write) => !write.tombstone && write.keyEpoch === 0 && write.id > firstNew.id).length
        seen.oldAfterNew += oldAfter
        if (oldAfter > 0) seen.runsWithBoth++
      }),
      { numRuns: 1_000 },
    )
    // The schedules reached what the property is about: batches that moved records, results
    // overtaken by a change, failed steps, values refused under an epoch not yet held, and
    // old-epoch writes made after the first new-epoch write (nodes on both sides of the rotation).
    expect(seen.reencrypted).toBeGreaterThan(0)
    expect(seen.discarded).toBeGreaterThan(0)
    expect(seen.failures).toBeGreaterThan(0)
    expect(seen.refusedEpoch).toBeGreaterThan(0)
    expect(seen.runsWithBoth).toBeGreaterThan(0)
  })

  test('property: a schedule replays exactly, so a printed seed reproduces its failure', async () => {
    const replay = async (schedule: Schedule) => {
      const outcome = await runRotation(schedule)
      return { stats: outcome.cluster.stats, writes: outcome.cluster.writes, snapshots: outcome.cluster.nodes.map((node) => node.store.snapshot()) }
    }
    await fc.assert(
      fc.asyncProperty(scheduleArbitrary({ maxOps: 60, skew: 'legal', links: true, rotation: true }), async (schedule) => {
        expect(await replay(schedule)).toEqual(await replay(schedule))
      }),
      { numRuns: 50 },
    )
  })
})

/**
 * Two gaps outside core/store, in the §6.8 journal and the delta answer (core/cluster), found by
 * this simulator with delta pushes alone (the property above settles by snapshot pulls, which
 * hide them). Each is pinned as an expected failure: once fixed, flip `test.fails` to `test`.
 */
describe('cluster simulation: known gaps of delta push during a rotation (core/cluster)', () => {
  test('gap closed: a record still owed to a cut-off peer is re-encrypted after the scan window: the journal drops its entry as stale and the peer never gets the write by delta push', async () => {
    // PeerWatermarks tells a record by a fingerprint of its value; re-encryption changes the
    // value, so its sweep drops the entry owed to C, on A and on B, and its scan no longer looks
    // that far back. Fix: the journal hears `KvStore.reencryptBatch`'s observer and keeps the
    // entry (same seq, source and stamp) with the new fingerprint; then pass it in _simulator.ts.
    const cluster = await SimCluster.create({ nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    await cluster.deltaRounds(1)
    await cluster.run([{ kind: 'cut', a: 0, b: 2 }, { kind: 'cut', a: 1, b: 2 }, { kind: 'put', node: 0, app: 1, key: 'a', order: 1 }])
    await cluster.deltaRounds(2) // past the scan window
    for (const node of cluster.nodes) node.reencryption.keyEpochs.add(ROTATION_EPOCH)
    await cluster.drainReencryption(10)
    await cluster.run([{ kind: 'heal' }])
    await cluster.deltaRounds(2 * (RELAY_DELAY_TICKS + 1))
    expect(cluster.nodes.map((node) => replicaOf(node).has('1/a'))).toEqual([true, true, true])
  })

  test('gap closed: a value refused because the receiver did not hold its epoch yet is never pushed again, so after installing the epoch it still lacks the write', async () => {
    // §6.7 counts it in `rejected`; the sender's cursor moves past it as for any accepted body.
    // Fix: answer such refusals so the sender pushes them again (as `refused_ahead_from_ms`),
    // or pull a snapshot once a new epoch is installed (§7.7 items 3 and 4).
    const cluster = await SimCluster.create({ nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    await cluster.deltaRounds(1)
    cluster.node(0).reencryption.keyEpochs.add(ROTATION_EPOCH)
    cluster.node(1).reencryption.keyEpochs.add(ROTATION_EPOCH)
    await cluster.run([{ kind: 'put', node: 0, app: 1, key: 'a', order: 1 }])
    await cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
    expect(cluster.stats.rejected).toBeGreaterThan(0)
    cluster.node(2).reencryption.keyEpochs.add(ROTATION_EPOCH)
    await cluster.deltaRounds(2 * (RELAY_DELAY_TICKS + 1))
    expect(cluster.nodes.map((node) => replicaOf(node).has('1/a'))).toEqual([true, true, true])
  })
})

describe('cluster simulation: re-encryption is not a change §6.8 pushes', () => {
  test('behavior: once the journal has passed the writes, every node re-encrypts its own copy and no record crosses the network', async () => {
    const cluster = await SimCluster.create({ nodes: 3, skewsMs: [0, 0, 0], maxSyncPayloadBytes: 1_048_576, ops: [] })
    const transfers: number[] = []
    await cluster.deltaRounds(1)
    await cluster.run([
      { kind: 'put', node: 0, app: 1, key: 'a', order: 1 },
      { kind: 'put', node: 1, app: 2, key: 'b', order: 2 },
      { kind: 'put', node: 2, app: 1, key: 'é', order: 3 },
    ])
    await cluster.deltaRounds(RELAY_DELAY_TICKS + 2)
    const before = cluster.stats.sent
    const merged = () => cluster.nodes.map((node) => replicaOf(node))
    expect(converged(compareReplicas(merged()))).toBe(true)
    for (const node of cluster.nodes) node.reencryption.keyEpochs.add(ROTATION_EPOCH)
    await cluster.drainReencryption(2)
    expect(cluster.stats.reencrypted).toBe(9)
    const sentBodies: string[] = []
    const original = cluster.network.send.bind(cluster.network)
    cluster.network.send = (from, to, body) => {
      sentBodies.push(body)
      return original(from, to, body)
    }
    await cluster.deltaRounds(3)
    for (const body of sentBodies) transfers.push(Object.values((JSON.parse(body) as { data: Record<string, unknown[]> }).data).flat().length)
    expect(transfers.reduce((total, count) => total + count, 0)).toBe(0)
    expect(cluster.stats.sent - before).toBe(sentBodies.length)
    // Each replica re-encrypted on its own, and they hold the same bytes.
    const divergence = compareReplicas(merged())
    expect([...divergence.values, ...divergence.clocks]).toEqual([])
    expect(merged()[0]!.get('1/a')?.keyEpoch).toBe(ROTATION_EPOCH)
  })
})
