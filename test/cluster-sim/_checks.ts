/**
 * The oracles the simulation properties assert. They restate PROTOCOL §6.5–§6.7 on their own
 * instead of calling core/store's helpers, so that a bug there cannot hide inside its check.
 * Each returns a list of violations (empty when the property holds), phrased for a report.
 */
import { parseHex } from '../../core/encoding'
import type { WireData, WireRecord } from '../../core/store'
import type { IngestEvent, SimNode } from './_simulator'
import { MAX_CLOCK_SKEW_MS, type AckedWrite } from './_types'
import { openSimValue, reencryptSimValue } from './_simValue'

export type ClockOrder = 'equal' | 'before' | 'after' | 'concurrent'
type ClockMap = ReadonlyMap<string, number>

/** §6.5: how clock `x` relates to `y`; `before` means x happened-before y; a missing entry is 0. */
export function relate(x: ClockMap, y: ClockMap): ClockOrder {
  let less = false
  let greater = false
  for (const wallet of new Set([...x.keys(), ...y.keys()])) {
    const [a, b] = [x.get(wallet) ?? 0, y.get(wallet) ?? 0]
    if (a < b) less = true
    if (a > b) greater = true
  }
  if (less) return greater ? 'concurrent' : 'before'
  return greater ? 'after' : 'equal'
}

interface Stamped {
  readonly updatedAtMs: number
  readonly keyEpoch: number
  readonly ciphertext: Uint8Array
}

/**
 * §6.6: `a` beats `b` iff it is later, or as late under a higher key epoch, or as late under
 * the same epoch with a bytewise-greater ciphertext (a proper prefix is smaller).
 */
export function beats(a: Stamped, b: Stamped): boolean {
  if (a.updatedAtMs !== b.updatedAtMs) return a.updatedAtMs > b.updatedAtMs
  if (a.keyEpoch !== b.keyEpoch) return a.keyEpoch > b.keyEpoch
  const length = Math.min(a.ciphertext.length, b.ciphertext.length)
  for (let index = 0; index < length; index++) {
    if (a.ciphertext[index] !== b.ciphertext[index]) return a.ciphertext[index]! > b.ciphertext[index]!
  }
  return a.ciphertext.length > b.ciphertext.length
}

/** One record of a replica's snapshot, decoded from its §4.3 wire form. */
export interface ReplicaRecord {
  readonly appId: number
  readonly key: string
  readonly value: string | null
  readonly ciphertext: Uint8Array
  /** §4.3 `key_epoch`, absent meaning 0. */
  readonly keyEpoch: number
  readonly clock: ClockMap
  readonly updatedAtMs: number
  readonly tombstone: boolean
  readonly ttlMs: number
}

/** A replica's whole state, by `app/key`. */
export type Replica = ReadonlyMap<string, ReplicaRecord>

const slot = (appId: number, key: string): string => `${appId}/${key}`

/** What `node` would answer to `snapshot_request` (§4.3): every record, tombstones included. */
export function replicaOf(node: SimNode): Replica {
  const replica = new Map<string, ReplicaRecord>()
  for (const [app, records] of Object.entries(node.store.snapshot())) {
    for (const record of records) {
      const appId = Number(app)
      replica.set(slot(appId, record.key), {
        appId,
        key: record.key,
        value: record.value,
        ciphertext: record.value === null ? new Uint8Array(0) : parseHex(record.value)!,
        keyEpoch: record.key_epoch ?? 0,
        clock: new Map(Object.entries(record.version)),
        updatedAtMs: record.updated_at_ms,
        tombstone: record.tombstone,
        ttlMs: record.ttl_ms,
      })
    }
  }
  return replica
}

const show = (clock: ClockMap): string =>
  `{${[...clock].map(([wallet, count]) => `${wallet.slice(0, 4)}…:${count}`).join(',')}}`
const describe = (record: ReplicaRecord): string =>
  `${record.tombstone ? 'tombstone' : `value ${record.value?.slice(10, 20)}… epoch ${record.keyEpoch}`} t=${record.updatedAtMs} clock ${show(record.clock)}`

export interface Divergence {
  /** Replicas that lack a key another holds, or hold different content for it. */
  readonly values: string[]
  /**
   * Replicas that hold the same content under different clocks: one has not seen the clock
   * another merged, ordered or concurrent. A concurrent full tie (one value that won two
   * concurrent merges on two nodes, or two tombstones of one ms) stores the join (docs §6.6,
   * project rule), so once sync has settled every replica holds one clock.
   */
  readonly clocks: string[]
}

/** Property 1: same keys, ciphertexts, key epochs, tombstone flags, timestamps, TTLs and clocks everywhere. */
export function compareReplicas(replicas: readonly Replica[]): Divergence {
  const divergence = { values: [] as string[], clocks: [] as string[] }
  const slots = new Set(replicas.flatMap((replica) => [...replica.keys()]))
  for (const name of slots) {
    const reference = replicas[0]!.get(name)
    for (const [index, replica] of replicas.entries()) {
      const record = replica.get(name)
      if (reference === undefined || record === undefined) {
        if (reference !== record) divergence.values.push(`${name}: node 0 ${reference ? 'holds' : 'lacks'} it, node ${index} ${record ? 'holds' : 'lacks'} it`)
        continue
      }
      const difference = `${name}: node 0 holds ${describe(reference)}, node ${index} holds ${describe(record)}`
      const sameContent =
        record.value === reference.value &&
        record.keyEpoch === reference.keyEpoch &&
        record.tombstone === reference.tombstone &&
        record.updatedAtMs === reference.updatedAtMs &&
        record.ttlMs === reference.ttlMs
      if (!sameContent) divergence.values.push(difference)
      else if (relate(record.clock, reference.clock) !== 'equal') divergence.clocks.push(difference)
    }
  }
  return divergence
}

/** Whether `compareReplicas` found the replicas converged: same content under the same clock. */
export function converged(divergence: Divergence): boolean {
  return divergence.values.length === 0 && divergence.clocks.length === 0
}

/**
 * Whether `record` carries `write`: its time, its flag and, for a value, the write itself under
 * whichever key epoch (a re-encrypted copy is the same write, §6.10). At epoch 0 alone this is
 * the byte comparison it was: a write's simulated bytes name its id.
 */
const sameContent = (record: ReplicaRecord, write: AckedWrite): boolean =>
  record.updatedAtMs === write.updatedAtMs &&
  record.tombstone === write.tombstone &&
  (record.tombstone || openSimValue(record.ciphertext)?.writeId === write.id)

/** `write` as a replica under `keyEpoch` holds it: its own bytes, or their §6.10 re-encryption. */
function copyAt(write: AckedWrite, keyEpoch: number): Stamped {
  if (write.tombstone || keyEpoch <= write.keyEpoch) return write
  return { updatedAtMs: write.updatedAtMs, keyEpoch, ciphertext: reencryptSimValue(write.ciphertext, keyEpoch) }
}

/**
 * Property 2. For each app and key, the replicas that hold the same content (timestamp,
 * tombstone flag, ciphertext) form one group F, whose clock is the join of theirs: before sync
 * has settled, replicas may hold one content under different clocks, and the join is the clock
 * they will agree on (docs §6.6, full ties). For every acknowledged write W of that key:
 * - some replica holds the key (no run here reaches a TTL, retention or size limit);
 * - F's clock is not happened-before W's (§6.5): W was neither dropped nor rolled back;
 * - if the clocks are equal, F carries W's content;
 * - if they are concurrent, F beats W by the §6.6 rule (a concurrent, newer write won), or
 *   carries W's content. With key epochs, F's line may have met W under W's own epoch or
 *   re-encrypted to F's: it beats one of those two copies.
 * F's clock after W's means F was written or merged (§6.6 `max(S, R)`) by a node that had W.
 * Groups are checked one by one, so replicas that did not converge are still checked.
 */
export function checkNoLostWrite(writes: readonly AckedWrite[], replicas: readonly Replica[]): string[] {
  const violations: string[] = []
  for (const write of writes) {
    const what = `write #${write.id} (${write.tombstone ? 'delete' : 'put'} on node ${write.node}, ${slot(write.appId, write.key)}, t=${write.updatedAtMs}, clock ${show(write.clock)})`
    const groups = new Map<string, { record: ReplicaRecord; clock: Map<string, number>; nodes: number[] }>()
    for (const [index, replica] of replicas.entries()) {
      const record = replica.get(slot(write.appId, write.key))
      if (record === undefined) {
        violations.push(`${what} is missing on node ${index}`)
        continue
      }
      const content = `${record.updatedAtMs}/${record.tombstone}/${record.value}`
      const group = groups.get(content) ?? { record, clock: new Map<string, number>(), nodes: [] }
      for (const [wallet, count] of record.clock) group.clock.set(wallet, Math.max(group.clock.get(wallet) ?? 0, count))
      group.nodes.push(index)
      groups.set(content, group)
    }
    for (const { record, clock, nodes } of groups.values()) {
      const where = `on node${nodes.length > 1 ? 's' : ''} ${nodes.join(', ')}`
      const held = `${describe(record)} (joined clock ${show(clock)})`
      const order = relate(clock, write.clock)
      const carriesWrite = sameContent(record, write)
      if (order === 'before') violations.push(`${what} is lost ${where}: they hold the older ${held}`)
      else if (order === 'equal' && !carriesWrite) violations.push(`${what} has the clock of another record ${where}: ${held}`)
      else if (order === 'concurrent' && !carriesWrite && !beats(record, write) && !beats(record, copyAt(write, record.keyEpoch))) {
        violations.push(`${what} lost a §6.6 tie-break it wins ${where}, to ${held}`)
      }
    }
  }
  return violations
}

/**
 * What delta push alone guarantees on a network that loses nothing (§6.8): every replica
 * received every acknowledged write W or a record that had seen it, so it holds the key with a
 * clock that is not happened-before W's. It does not promise that W wins there: without
 * snapshot pulls §6.6 can leave replicas holding different values (see the behavior tests).
 */
export function checkReached(writes: readonly AckedWrite[], replicas: readonly Replica[]): string[] {
  const violations: string[] = []
  for (const write of writes) {
    for (const [index, replica] of replicas.entries()) {
      const record = replica.get(slot(write.appId, write.key))
      if (record === undefined || relate(record.clock, write.clock) === 'before') {
        const held = record === undefined ? 'nothing' : describe(record)
        violations.push(`write #${write.id} (node ${write.node}, ${slot(write.appId, write.key)}, clock ${show(write.clock)}) never reached node ${index}, which holds ${held}`)
      }
    }
  }
  return violations
}

/**
 * Every record a replica holds comes from an acknowledged write of the same app and key (so
 * no namespace leaks into another, §6.1), and its clock is at most the join of those writes'
 * clocks: merges take maxima (§6.6) and never invent an entry. A value holds exactly the
 * write's bytes, or their re-encryption to a later epoch (§6.10): nothing else.
 */
export function checkProvenance(writes: readonly AckedWrite[], replicas: readonly Replica[]): string[] {
  const violations: string[] = []
  const byId = new Map(writes.map((write) => [write.id, write]))
  const joins = new Map<string, Map<string, number>>()
  for (const write of writes) {
    const join = joins.get(slot(write.appId, write.key)) ?? new Map<string, number>()
    for (const [wallet, count] of write.clock) join.set(wallet, Math.max(join.get(wallet) ?? 0, count))
    joins.set(slot(write.appId, write.key), join)
  }
  for (const [index, replica] of replicas.entries()) {
    for (const [name, record] of replica) {
      const origin = record.tombstone
        ? writes.find((w) => w.tombstone && w.appId === record.appId && w.key === record.key && w.updatedAtMs === record.updatedAtMs)
        : byId.get(openSimValue(record.ciphertext)?.writeId ?? 0)
      const sameSlot = origin !== undefined && origin.appId === record.appId && origin.key === record.key
      if (!sameSlot || origin.updatedAtMs !== record.updatedAtMs || origin.tombstone !== record.tombstone || record.ttlMs !== 0) {
        violations.push(`node ${index} holds ${name} = ${describe(record)}, which no acknowledged write of ${name} made`)
      } else if (!origin.tombstone) {
        const expected = copyAt(origin, record.keyEpoch)
        const exact = expected.keyEpoch === record.keyEpoch && expected.ciphertext.length === record.ciphertext.length && expected.ciphertext.every((byte, at) => byte === record.ciphertext[at])
        if (!exact) violations.push(`node ${index} holds ${name} = ${describe(record)}: not write #${origin.id}'s bytes at epoch ${record.keyEpoch}`)
      }
      const order = relate(record.clock, joins.get(name) ?? new Map())
      if (order !== 'before' && order !== 'equal') violations.push(`node ${index} holds ${name} with clock ${show(record.clock)}, beyond every write's`)
    }
  }
  return violations
}

/**
 * §4.3 and §6.7 for one ingested body: `total` counts every record, `total = merged + skipped
 * + rejected`, and exactly the records more than MAX_CLOCK_SKEW_MS ahead of the receiver, or
 * values under a key epoch it does not hold, are rejected (nothing else in a simulated body is
 * invalid); a record rejected for its time is not stored by it.
 */
export function checkIngest(event: IngestEvent): string[] {
  const violations: string[] = []
  const { counts, nowMs } = event
  const data = event.data as WireData
  const records = Object.entries(data).flatMap(([app, group]) => group.map((record) => ({ app, record })))
  const future = records.filter(({ record }) => record.updated_at_ms > nowMs + MAX_CLOCK_SKEW_MS)
  const undecryptable = records.filter(({ record }) => !record.tombstone && !event.heldEpochs.has(record.key_epoch ?? 0))
  const refused = new Set([...future, ...undecryptable]).size
  const where = `${event.via} into node ${event.node.index} at ${nowMs}`
  if (counts.total !== records.length) violations.push(`${where}: total ${counts.total}, body has ${records.length} records`)
  if (counts.merged + counts.skipped + counts.rejected !== counts.total) violations.push(`${where}: counts do not add up: ${JSON.stringify(counts)}`)
  if (counts.rejected !== refused) {
    violations.push(`${where}: rejected ${counts.rejected}, expected the ${future.length} records beyond the skew and the ${undecryptable.length} under an epoch not held (${refused} in all)`)
  }
  if (future.length > 0) {
    const after = event.node.store.snapshot()
    // The receiver may hold it already: its own write, stamped after the record it replaced.
    const holds = (data: WireData, app: string, record: WireRecord) =>
      data[app]?.some((other) => other.key === record.key && other.updated_at_ms === record.updated_at_ms && other.value === record.value) === true
    for (const { app, record } of future) {
      if (holds(after, app, record) && !holds(event.before, app, record)) {
        violations.push(`${where}: stored ${app}/${record.key} t=${record.updated_at_ms} although it is beyond the skew`)
      }
    }
  }
  return violations
}

/**
 * §6.6 with key epochs: an ingest never takes a replica back to an older epoch's copy of a
 * write it held under a newer epoch, unless the copy that came carries a clock strictly after
 * the held one (a node that merged a concurrent write over the old copy widened its clock: that
 * copy is causally newer and wins by version, §6.6; it is re-encrypted again later). Under an
 * equal or concurrent clock the re-encrypted copy must win, so a replica does not return to an
 * epoch about to be retired.
 */
export function checkNoEpochRegression(event: IngestEvent): string[] {
  const violations: string[] = []
  const values = (data: WireData) => {
    const held = new Map<string, WireRecord>()
    for (const [app, group] of Object.entries(data)) for (const record of group) if (!record.tombstone) held.set(slot(Number(app), record.key), record)
    return held
  }
  const writeOf = (record: WireRecord) => openSimValue(parseHex(record.value!)!)?.writeId
  const clockOf = (record: WireRecord): ClockMap => new Map(Object.entries(record.version))
  const incoming = values(event.data as WireData)
  const after = values(event.node.store.snapshot())
  for (const [name, before] of values(event.before)) {
    const now = after.get(name)
    const came = incoming.get(name)
    if (now === undefined || came === undefined || writeOf(now) !== writeOf(before) || (now.key_epoch ?? 0) >= (before.key_epoch ?? 0)) continue
    if (relate(clockOf(came), clockOf(before)) !== 'after') {
      violations.push(`${event.via} into node ${event.node.index}: ${name} went back from epoch ${before.key_epoch ?? 0} to ${now.key_epoch ?? 0} of write #${writeOf(now)} under a clock not after its own`)
    }
  }
  return violations
}
