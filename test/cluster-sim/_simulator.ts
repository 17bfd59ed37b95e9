// Over 400 lines: one class owns a run's network, nodes, in-flight requests and failures, and every step goes through it.
/**
 * A deterministic cluster of N replicas in one process (issue 5 item 5). Each replica is a
 * real `KvStore` driven by the real sync code:
 * - `runSyncTick` (PROTOCOL §7.4, §6.8), run through the node's `TickSchedule` so that runs
 *   never overlap, selects, splits and pushes deltas with per-peer watermarks; its
 *   `client.pushDelta` puts the body on the simulated network (`_network.ts`) and settles
 *   as the HTTP request would: with the peer's answer once the body is delivered, or with a
 *   failure when it is dropped, times out or meets a partition;
 * - a delivered body goes through `answerSync` (§4.3), hence `KvStore.ingest`: §6.7
 *   validation, then the §6.6 merge;
 * - a snapshot pull asks the peer's `answerSync` for `snapshot_request` and ingests the
 *   answer, as `SyncClient.pullSnapshotCounts` does for a joining node (§7.1 step 7).
 * Only the transport of §4.1/§4.2 (PoP, envelope, HMAC) is left out: it authenticates a body
 * and never changes it, so the JSON round trip here carries the same bytes to `ingest`.
 * Every node reads one shared `FakeClock`, which only the schedule advances, plus a fixed skew
 * of its own; peers come from a real `PeerCache` over an in-memory registry (`_registry.ts`);
 * values use a readable stand-in for AES-GCM (`_simValue.ts`). A key rotation (§7.7, §6.10) is
 * modelled per node (`_rotation.ts`): which epochs it holds, hence which records it accepts and
 * under which epoch it writes, and a background re-encryption whose steps the schedule completes.
 * Time, message fate and values come from the schedule alone, so a run replays exactly.
 */
import {
  answerSync,
  PeerCache,
  PeerWatermarks,
  Readiness,
  runSyncTick,
  TickSchedule,
  type AnswerSyncContext,
  type Peer,
  type SyncTickContext,
} from '../../core/cluster'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import type { Clock } from '../../core/runtime'
import { KvStore, type CanDecrypt, type KvStoreLimits, type StoreRecord, type WireData } from '../../core/store'
import { FakeClock, seededRandom } from '../helpers/fakeClock'
import { SimNetwork, type SimMessage } from './_network'
import { KMS_APP_ID, simRegistry } from './_registry'
import { SimReencryption, type SimBatch } from './_rotation'
import { canDecryptSim, sealSimValue } from './_simValue'
import { MAX_CLOCK_SKEW_MS, ROTATION_EPOCH, T0, type AckedWrite, type IngestCounts, type Schedule, type SimOp, type SimStats } from './_types'

/** The §11 defaults: no run comes near a size, tombstone-count or retention limit. */
const LIMITS: KvStoreLimits = {
  maxAppStorageBytes: 10_485_760,
  maxValueSizeBytes: 1_048_576,
  tombstoneRetentionMs: 86_400_000,
  maxTombstonesPerApp: 10_000,
  maxClockSkewMs: MAX_CLOCK_SKEW_MS,
}

/** One body a replica validated and merged; `data` is exactly what `ingest` was given. */
export interface IngestEvent {
  readonly node: SimNode
  readonly via: 'delta' | 'snapshot'
  readonly nowMs: number
  readonly data: unknown
  /** The receiver's snapshot just before the ingest. */
  readonly before: WireData
  /** The key epochs the receiver held (§6.7: a value of another epoch does not decrypt). */
  readonly heldEpochs: ReadonlySet<number>
  readonly counts: IngestCounts
}

/** Node `index`'s view of the shared clock, `skewMs` ahead (§6.7 bounds the skew peers accept). */
class SkewedClock implements Clock {
  constructor(
    readonly base: FakeClock,
    /** Mutable: the host may move a node's clock mid-run (`shift`). */
    public skewMs: number,
  ) {}
  nowMs(): number {
    return this.base.ms + this.skewMs
  }
}

export interface SimNode {
  readonly index: number
  readonly wallet: Wallet
  readonly clock: SkewedClock
  readonly store: KvStore
  readonly ticks: TickSchedule
  readonly tick: SyncTickContext
  readonly answer: AnswerSyncContext
  readonly reencryption: SimReencryption
}

/** How a pushed body's request ends: the peer's answer, or a transport failure. */
interface PendingRequest {
  resolve(answer: Record<string, unknown>): void
  reject(error: Error): void
}

/** Lets every promise continuation run, so that a step's consequences are all in place. */
const idle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

const unreachable = (): KmsError => new KmsError('service_unavailable', 'peer unreachable')

/** `0x` + 40 lowercase hex digits (§0), a different one per node. */
export function simWallet(index: number): Wallet {
  return `0x${(index + 1).toString(16).padStart(2, '0').repeat(20)}` as Wallet
}

export class SimCluster {
  readonly base = new FakeClock(T0)
  readonly network: SimNetwork
  readonly nodes: SimNode[] = []
  readonly writes: AckedWrite[] = []
  readonly stats: SimStats = { sent: 0, delivered: 0, lost: 0, duplicated: 0, pushFailures: 0, snapshotPulls: 0, rejected: 0, tieBreaks: 0, atSkewBound: 0, reencrypted: 0, discarded: 0, reencryptFailures: 0 }
  readonly #onIngest: (event: IngestEvent) => void
  /** The open request behind each in-flight body that has one (duplicates have none). */
  readonly #requests = new Map<number, PendingRequest>()
  readonly #runningTicks = new Set<Promise<void>>()
  #failure: unknown
  #nextWriteId = 1

  private constructor(schedule: Schedule, onIngest: (event: IngestEvent) => void) {
    this.network = new SimNetwork(schedule.nodes)
    this.#onIngest = onIngest
  }

  /** Builds the replicas, each with a real peer cache filled from an in-memory registry (§7.2). */
  static async create(schedule: Schedule, onIngest: (event: IngestEvent) => void = () => {}): Promise<SimCluster> {
    const cluster = new SimCluster(schedule, onIngest)
    const wallets = Array.from({ length: schedule.nodes }, (_, index) => simWallet(index))
    const registry = simRegistry(wallets)
    for (const [index, wallet] of wallets.entries()) {
      const clock = new SkewedClock(cluster.base, schedule.skewsMs[index] ?? 0)
      const store = new KvStore({ clock, nodeWallet: () => wallet, limits: LIMITS })
      // The cache never goes stale during a run: membership is fixed, reachability is the network's.
      const peers = new PeerCache({ registry, kmsAppId: KMS_APP_ID, mode: 'dev', clock, ttlSeconds: 1e9 })
      await peers.refresh()
      const readiness = new Readiness()
      readiness.markAvailable()
      // The §6.8 journal hears each re-encryption, as core/nodeTicks.ts wires it.
      const watermarks = new PeerWatermarks()
      const reencryption = new SimReencryption(store, { reencrypted: (appId, previous, record) => watermarks.reencrypted(appId, previous, record) })
      // §6.7 under data_key(app, key_epoch): an epoch the node does not hold does not decrypt.
      const canDecrypt: CanDecrypt = async (appId, ciphertext, keyEpoch) => reencryption.keyEpochs.has(keyEpoch) && canDecryptSim(appId, ciphertext, keyEpoch)
      const node: SimNode = {
        index,
        wallet,
        clock,
        store,
        ticks: new TickSchedule(clock, { nodeTickSeconds: 1, dataSyncIntervalSeconds: 1 }),
        tick: {
          readiness,
          hasSyncKey: true,
          peers,
          store,
          client: { pushDelta: (peer, data, fields) => cluster.#pushDelta(node, peer, data, fields) },
          clock,
          ownWallet: wallet,
          watermarks,
          maxSyncPayloadBytes: schedule.maxSyncPayloadBytes,
          recordPush: (_peer, result) => {
            if (result === 'failed') cluster.stats.pushFailures++
          },
          log: () => {},
        },
        answer: {
          store,
          canDecrypt,
          // §4.3 `refused_key_epochs`: the rotation's epoch, until this node holds it.
          awaitedKeyEpochs: () => (reencryption.keyEpochs.has(ROTATION_EPOCH) ? new Set<number>() : new Set([ROTATION_EPOCH])),
          // The simulation never exchanges the secret: sealing is never reached.
          sealSecretFor: () => Promise.reject(new Error('the simulation does not exchange secrets')),
          random: seededRandom(index + 1),
        },
        reencryption,
      }
      cluster.nodes.push(node)
    }
    return cluster
  }

  node(index: number): SimNode {
    return this.nodes[index % this.nodes.length]!
  }

  /** Applies one step, then lets everything it set off run until it waits on the network. */
  async apply(op: SimOp): Promise<void> {
    await this.#step(op)
    await idle()
    if (this.#failure !== undefined) throw this.#failure
  }

  async #step(op: SimOp): Promise<void> {
    switch (op.kind) {
      case 'put':
        return this.put(this.node(op.node), op.app, op.key, op.order)
      case 'delete':
        return this.delete(this.node(op.node), op.app, op.key)
      case 'tick':
        return this.startTick(this.node(op.node))
      case 'rejoin':
        await this.pullSnapshot(this.node(op.node), this.node(op.from))
        return
      case 'deliver': {
        const message = this.network.take(op.pick)
        if (message !== undefined) await this.#deliver(message)
        return
      }
      case 'drop': {
        const message = this.network.take(op.pick)
        if (message !== undefined) this.#lose(message)
        return
      }
      case 'timeout': {
        const message = this.network.peek(op.pick)
        if (message !== undefined) this.#fail(message)
        return
      }
      case 'duplicate':
        if (this.network.duplicate(op.pick)) this.stats.duplicated++
        return
      case 'delay':
        return this.network.delay(op.pick)
      case 'reorder':
        return this.network.reorder(op.pick, op.other)
      case 'partition':
        return this.network.partition(op.sides)
      case 'heal':
        return this.network.heal()
      case 'cut':
        return this.network.cut(op.a % this.nodes.length, op.b % this.nodes.length)
      case 'link':
        return this.network.link(op.a % this.nodes.length, op.b % this.nodes.length)
      case 'shift':
        this.node(op.node).clock.skewMs += op.ms
        return
      case 'advance':
        this.base.ms += op.ms
        return
      case 'acquire':
        this.node(op.node).reencryption.keyEpochs.add(ROTATION_EPOCH)
        return
      case 'reencrypt':
        return this.startReencryption(this.node(op.node), op.limit)
      case 'crypto':
        this.node(op.node).reencryption.complete(op.fail)
        return
    }
  }

  async run(ops: readonly SimOp[]): Promise<void> {
    for (const op of ops) await this.apply(op)
  }

  /** A client put under the node's serving epoch (§7.7), acknowledged once `KvStore.put` returns (§2.5, §6.2). */
  put(node: SimNode, appId: number, key: string, order: number): void {
    const id = this.#nextWriteId++
    const keyEpoch = node.reencryption.servingEpoch
    const record = node.store.put(appId, key, sealSimValue(appId, id, order, keyEpoch), 0, keyEpoch)
    this.writes.push({ id, node: node.index, appId, key, clock: new Map(record.clock), updatedAtMs: record.updatedAtMs, ciphertext: record.ciphertext, keyEpoch, tombstone: false })
  }

  /** A client delete; `not_found` (no live key) is a refused request, not a write (§6.2). */
  delete(node: SimNode, appId: number, key: string): void {
    let record: StoreRecord
    try {
      record = node.store.delete(appId, key)
    } catch (error) {
      if (error instanceof KmsError && error.code === 'not_found') return
      throw error
    }
    const id = this.#nextWriteId++
    this.writes.push({ id, node: node.index, appId, key, clock: new Map(record.clock), updatedAtMs: record.updatedAtMs, ciphertext: record.ciphertext, keyEpoch: 0, tombstone: true })
  }

  /** Starts a re-encryption batch on `node` in the background (§6.10), as its `sync_tick` would. */
  startReencryption(node: SimNode, limit: number): void {
    node.reencryption.start(limit)?.then(
      (batch) => this.#count(batch),
      (error: unknown) => {
        this.#failure ??= error // reencryptBatch never rejects for a record: surface it as a failure of the run
      },
    )
  }

  /** Every node ends its re-encryption: what is in progress completes, then batches run until none is left below its serving epoch. */
  async drainReencryption(limit: number): Promise<void> {
    for (const node of this.nodes) for (const batch of await node.reencryption.drain(limit)) this.#count(batch)
    await idle()
    if (this.#failure !== undefined) throw this.#failure
  }

  #count(batch: SimBatch): void {
    this.stats.reencrypted += batch.reencrypted
    this.stats.discarded += batch.discarded
    this.stats.reencryptFailures += batch.failed
  }

  /**
   * Starts `sync_tick` on `node` unless one is running there (`TickSchedule` joins it, as the
   * bundle's timer does). The tick goes on in the background, waiting on its requests.
   */
  startTick(node: SimNode): void {
    const run = node.ticks.run('sync_tick', async () => {
      await runSyncTick(node.tick)
    })
    if (this.#runningTicks.has(run)) return
    this.#runningTicks.add(run)
    run.then(
      () => this.#runningTicks.delete(run),
      (error: unknown) => {
        this.#runningTicks.delete(run)
        this.#failure ??= error // runSyncTick never rejects: surface it as a failure of the run
      },
    )
  }

  /** Delivers every in-flight body, oldest first, including those sent meanwhile, until every tick has ended. */
  async flush(): Promise<void> {
    for (;;) {
      const message = this.network.take(0)
      if (message !== undefined) await this.#deliver(message)
      await idle()
      if (this.#failure !== undefined) throw this.#failure
      if (message === undefined && this.#runningTicks.size > 0) throw new Error('simulator: a sync tick waits on no in-flight body')
      if (message === undefined) return
    }
  }

  /**
   * `to` pulls `from`'s snapshot (§4.3 `snapshot_request`) and ingests it, as a (re)joining
   * node does (§7.1 steps 7 and 8). Fails, changing nothing, across a partition.
   */
  async pullSnapshot(to: SimNode, from: SimNode): Promise<void> {
    if (to === from || !this.network.connected(to.index, from.index)) return
    const answer = await answerSync({ type: 'snapshot_request', sender_wallet: to.wallet }, from.answer)
    const data: unknown = JSON.parse(JSON.stringify(answer['data']))
    const [nowMs, before, heldEpochs] = [to.clock.nowMs(), to.store.snapshot(), new Set(to.reencryption.keyEpochs)]
    const result = await to.store.ingest(data, to.answer.canDecrypt, to.tick.watermarks.pulled(from.wallet))
    this.stats.snapshotPulls++
    this.#observe({ node: to, via: 'snapshot', nowMs, data, before, heldEpochs, counts: countsOf(result) })
  }

  /**
   * After the schedule: heal, deliver what is still in flight, then run clean rounds until
   * `settled` holds. A round is one `sync_tick` per node with every body delivered, then a
   * snapshot pull by every node from every other (a joining node asks one peer, §7.1; here
   * every node rejoins). Until the §6.8 journal (2026-12), pulls were needed even on a lossless
   * network: the clock a §6.6 concurrent merge widened on an older record was never pushed. It is
   * now an own change and pushed; relay.test.ts settles by delta pushes alone.
   * @returns the number of rounds run, or `undefined` if `maxRounds` did not settle it.
   */
  async settle(options: { maxRounds: number; catchUpMs?: number; settled: () => boolean }): Promise<number | undefined> {
    this.network.heal()
    await this.flush()
    this.base.ms += options.catchUpMs ?? 0
    for (let round = 1; round <= options.maxRounds; round++) {
      this.base.ms += 1_000
      for (const node of this.nodes) {
        this.startTick(node)
        await this.flush()
      }
      for (const to of this.nodes) for (const from of this.nodes) await this.pullSnapshot(to, from)
      if (options.settled()) return round
    }
    return undefined
  }

  /**
   * `rounds` clean sync rounds on the network as it is (no heal, no snapshot pull): each
   * advances the shared clock by `stepMs`, then runs one `sync_tick` per node, every body
   * delivered where a link exists and lost where none does. Only §6.8 pushes and relays move
   * records here.
   */
  async deltaRounds(rounds: number, stepMs = 1_000): Promise<void> {
    await this.flush()
    for (let round = 0; round < rounds; round++) {
      this.base.ms += stepMs
      for (const node of this.nodes) {
        this.startTick(node)
        await this.flush()
      }
    }
  }

  /** The request of `SyncClient.pushDelta`: it ends when the body is answered or lost. */
  #pushDelta(from: SimNode, peer: Peer, data: WireData, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const to = this.nodes.find((node) => node.wallet === peer.wallet)!
    if (!this.network.connected(from.index, to.index)) return Promise.reject(unreachable())
    // The §4.3 inner payload, as JSON: the receiver sees only what survives the wire.
    const id = this.network.send(from.index, to.index, JSON.stringify({ type: 'delta', sender_wallet: from.wallet, ...fields, data }))
    this.stats.sent++
    return new Promise((resolve, reject) => this.#requests.set(id, { resolve, reject }))
  }

  /** A body in flight when its endpoints are split is lost. */
  async #deliver(message: SimMessage): Promise<void> {
    if (!this.network.connected(message.from, message.to)) return this.#lose(message)
    const to = this.nodes[message.to]!
    const payload = JSON.parse(message.body) as Record<string, unknown>
    const [nowMs, before, heldEpochs] = [to.clock.nowMs(), to.store.snapshot(), new Set(to.reencryption.keyEpochs)]
    const sender = this.nodes[message.from]!
    const cached = new Set(this.nodes.map((node) => node.wallet))
    const answer = await answerSync(payload, { ...to.answer, relay: { sender: sender.wallet, watermarks: to.tick.watermarks, cached } })
    this.stats.delivered++
    this.#observe({ node: to, via: 'delta', nowMs, data: payload['data'], before, heldEpochs, counts: countsOf(answer) })
    this.#requests.get(message.id)?.resolve(answer)
    this.#requests.delete(message.id)
  }

  #lose(message: SimMessage): void {
    this.stats.lost++
    this.#fail(message)
  }

  /** The sender's request fails (`peer unreachable`), if it is still open. */
  #fail(message: SimMessage): void {
    this.#requests.get(message.id)?.reject(unreachable())
    this.#requests.delete(message.id)
  }

  #observe(event: IngestEvent): void {
    this.stats.rejected += event.counts.rejected
    this.stats.tieBreaks += event.counts.tieBreaks
    for (const group of Object.values(event.data as WireData)) {
      for (const record of group) if (record.updated_at_ms === event.nowMs + MAX_CLOCK_SKEW_MS) this.stats.atSkewBound++
    }
    this.#onIngest(event)
  }
}

/** The §4.3 counts of a delta answer or an `IngestResult`; anything else is a broken answer. */
function countsOf(answer: object): IngestCounts {
  const fields = answer as Record<string, unknown>
  const count = (name: string): number => {
    const value = fields[name]
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new TypeError(`sync answer: ${name} is not an integer`)
    return value
  }
  const reasons = fields['skip_reasons'] as Record<string, unknown> | undefined
  const tieBreaks = reasons?.['ignored_concurrent_tie_break']
  return {
    total: count('total'),
    merged: count('merged'),
    skipped: count('skipped'),
    rejected: count('rejected'),
    tieBreaks: typeof tieBreaks === 'number' ? tieBreaks : 0,
  }
}
