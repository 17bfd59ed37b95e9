/**
 * What `sync_tick` remembers between runs (PROTOCOL §6.8, "relay without echo"): a change
 * journal of the records this node must still push, and per peer how far it got. The journal,
 * the per-peer cursors and the acknowledgements are one invariant, so they live together: a
 * record leaves the journal only once every cached peer has it or is not owed it.
 *
 * - Every change to the store gets a local sequence number `seq`: a merge from `/sync`
 *   (`received`), a snapshot page (`pulled`), or a local write, found by the tick's scan of
 *   `updated_at_ms` (`#scan`).
 * - A peer without a cursor (first contact) gets the whole store, then only the journal.
 * - A record is never pushed back to the peer it came from (echo).
 * - A record a peer wrote itself ("first hand") is relayed to a third peer only if its writer
 *   has not, within RELAY_DELAY_TICKS, acknowledged that the third peer took it: writers push
 *   `acks` = per peer, the highest of their own seqs that peer has accepted. The relay is the
 *   default; an acknowledgement only suppresses it, so a writer that crashes or loses its link
 *   never leaves a record stranded (non-transitive partitions converge).
 * - A record refused for running ahead of the peer's clock (§6.7), or for a live key epoch the
 *   peer does not hold yet (§7.7), is pushed again, from the earliest refused one, until the
 *   peer takes it.
 * - A re-encryption (§6.10) keeps the record's entry, under its new value: the write is still
 *   owed to whoever had not taken it.
 *
 * Memory: one entry per (app, key) slot, dropped as soon as every cached peer's cursor has
 * passed it (and the scan window has too), or its slot no longer holds that record (swept every
 * tick): never more entries than the store holds records, and usually only the last ticks'
 * changes. Per-peer state and acknowledgements are kept only for wallets in the peer cache.
 */
import { bytesToHex, type Wallet } from '../encoding'
import { splitDelta, type KvStore, type StoreRecord, type WireData, type WireRecord } from '../store'

/** Ticks a first-hand record waits for its writer's acknowledgement before it is relayed anyway. */
export const RELAY_DELAY_TICKS = 3
/** How far back each scan for local writes reaches, at least and at most (one tick gap in between). */
const MIN_SCAN_OVERLAP_MS = 1_000
const MAX_SCAN_OVERLAP_MS = 60_000
/** The most `acks` entries read from one body: far above any cluster (§4.3). */
const MAX_ACKS = 256
/** The longest `stream` accepted (§4.3); this node sends its first tick's time in hex. */
const MAX_STREAM_CHARS = 64

/**
 * The store as the journal reads it. Without `peekWire` (a stub store) no entry is ever found
 * current, so each peer gets only its first contact, the whole store.
 */
export type JournalStore = Pick<KvStore, 'selectDelta'> & Partial<Pick<KvStore, 'peekWire' | 'snapshot'>>

interface JournalEntry {
  readonly appId: number
  readonly key: string
  readonly updatedAtMs: number
  readonly fingerprint: number
  readonly seq: number
  /** This node's tick count when the change arrived. */
  readonly tick: number
  /** The peer it came from; `undefined` for a record this node wrote or created (§6.6 max clock). */
  readonly source: Wallet | undefined
  /** The source's own write, stamped with the source's `stream` and seq bound: it may be acknowledged. */
  readonly stamp: { readonly stream: string; readonly seq: number } | undefined
}

interface PeerCursor {
  /** Every entry with seq ≤ `through` is handled for this peer: taken, or not owed to it. */
  through: number
  /** The journal's top at the last push the peer took whole; entries up to it were sent unless deferred. */
  sentUpTo: number
  /** The tick of that push, which says which entries in (through, sentUpTo] were deferred. */
  lastTick: number
  /** All own entries with seq ≤ `ownAcked` were accepted by the peer: what `acks` tells others. */
  ownAcked: number
  /** The `acks` sent in the last push the peer took, so an unchanged set is not sent again. */
  acksSent: string
}

/** One `/sync` delta body of a push, with the seqs it covers (for §6.7 refusals). */
export interface PlannedBody {
  readonly data: WireData
  readonly fields: Record<string, unknown>
}

/** What one tick owes one peer. */
export interface PeerPlan {
  readonly bodies: readonly PlannedBody[]
  readonly records: number
  /** Applies a body's answer (`refused_ahead_from_ms`, §4.3) to what is committed on success. */
  answered(body: PlannedBody, answer: Record<string, unknown>): void
  /** Every body was taken (or there was none): move the peer's cursors. */
  commit(): void
}

/** FNV-1a over the value hex and the tombstone flag: tells a record from a later one of the same ms. */
function fingerprintOf(record: WireRecord): number {
  let hash = record.tombstone ? 0x811c9dc5 ^ 1 : 0x811c9dc5
  const text = record.value ?? ''
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193)
  return hash >>> 0
}

const slotOf = (appId: number, key: string): string => `${appId}:${key}`

function countRecords(data: WireData): number {
  return Object.values(data).reduce((total, group) => total + group.length, 0)
}

/** §6.8 per-peer progress and the relay journal; one per node, kept across ticks. */
export class PeerWatermarks {
  /** slot → entry, in seq order (a new change moves its slot to the end). */
  readonly #journal = new Map<string, JournalEntry>()
  readonly #peers = new Map<Wallet, PeerCursor>()
  /** Per writer: its stream and how far each peer has taken its own writes, as it said last. */
  readonly #acksFrom = new Map<Wallet, { stream: string; acks: Map<Wallet, number> }>()
  #seq = 0
  #ownSeq = 0
  #tick = 0
  #lastScanMs = 0
  #lastGapMs = MIN_SCAN_OVERLAP_MS
  #stream: string | undefined

  /** Every entry up to this seq is handled for `peer`; 0 before the first push it took. */
  since(peer: Wallet): number {
    return this.#peers.get(peer)?.through ?? 0
  }

  /** Entries held (for tests and the memory bound). */
  get journalSize(): number {
    return this.#journal.size
  }

  /**
   * A delta from `sender` (§4.3) is about to be ingested: reads its relay fields and returns the
   * observer that journals what it stores. Malformed relay fields are ignored, which only ever
   * makes this node relay more (fail towards sending).
   */
  received(sender: Wallet, payload: Record<string, unknown>, cached: ReadonlySet<Wallet>): Parameters<KvStore['ingest']>[2] {
    const stream = typeof payload['stream'] === 'string' && payload['stream'].length > 0 && payload['stream'].length <= MAX_STREAM_CHARS ? payload['stream'] : undefined
    const stampSeq = payload['stamp']
    const firstHand = stream !== undefined && payload['relayed'] !== true && typeof stampSeq === 'number' && Number.isSafeInteger(stampSeq) && stampSeq >= 0
    if (stream !== undefined && cached.has(sender)) this.#readAcks(sender, stream, payload['acks'], cached)
    const stamp = firstHand ? { stream, seq: stampSeq as number } : undefined
    return {
      stored: (appId: number, record: StoreRecord, reason: string) => {
        // A concurrent merge stores a clock nobody holds (§6.6 max): this node's own change.
        const ownChange = reason === 'replaced_by_concurrent_lww'
        this.#record(appId, record.key, record.updatedAtMs, fingerprintOfRecord(record), ownChange ? undefined : sender, ownChange ? undefined : stamp)
      },
    }
  }

  /** Records pulled in a snapshot from `source` (§4.3): relayed to others, never echoed back. */
  pulled(source: Wallet): Parameters<KvStore['ingest']>[2] {
    return {
      stored: (appId: number, record: StoreRecord, reason: string) => {
        const ownChange = reason === 'replaced_by_concurrent_lww'
        this.#record(appId, record.key, record.updatedAtMs, fingerprintOfRecord(record), ownChange ? undefined : source, undefined)
      },
    }
  }

  /**
   * One tick's plan for `peers` (every cached peer but self), read in one synchronous step so
   * that every peer's bodies cover the same journal (§6.8 step 1).
   */
  plan(context: { store: JournalStore; peers: readonly Wallet[]; maxBodyBytes: number; nowMs: number }): Map<Wallet, PeerPlan> {
    const { store, peers } = context
    this.#tick++
    // The journal's name: its seqs mean nothing to a receiver once this process is gone. The
    // first tick's time tells two processes of one node apart (a restart takes far over 1 ms).
    this.#stream ??= context.nowMs.toString(16)
    const scanSince = this.#scan(store, context.nowMs)
    const cached = new Set(peers)
    for (const wallet of this.#peers.keys()) if (!cached.has(wallet)) this.#peers.delete(wallet)
    for (const wallet of this.#acksFrom.keys()) if (!cached.has(wallet)) this.#acksFrom.delete(wallet)
    const current = this.#sweep(store, scanSince)
    const top = this.#seq
    const plans = new Map<Wallet, PeerPlan>()
    for (const peer of peers) plans.set(peer, this.#planFor(peer, store, current, top, context.maxBodyBytes))
    return plans
  }

  #record(appId: number, key: string, updatedAtMs: number, fingerprint: number, source: Wallet | undefined, stamp: JournalEntry['stamp']): void {
    const slot = slotOf(appId, key)
    this.#journal.delete(slot)
    const seq = ++this.#seq
    if (source === undefined) this.#ownSeq = seq
    this.#journal.set(slot, { appId, key, updatedAtMs, fingerprint, seq, tick: this.#tick, source, stamp })
  }

  #readAcks(sender: Wallet, stream: string, raw: unknown, cached: ReadonlySet<Wallet>): void {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return
    const acks = new Map<Wallet, number>()
    const fields = raw as Record<string, unknown>
    let read = 0
    // Counted as read, not copied first: a hostile body may hold millions of keys.
    for (const wallet in fields) {
      if (++read > MAX_ACKS) break
      const seq = fields[wallet]
      if (cached.has(wallet as Wallet) && typeof seq === 'number' && Number.isSafeInteger(seq) && seq >= 0) acks.set(wallet as Wallet, seq)
    }
    this.#acksFrom.set(sender, { stream, acks })
  }

  /**
   * A record re-encrypted in place (§6.10): its entry, if it has one for exactly `previous`,
   * now names the new value, with the same seq, source and stamp. Without this the sweep
   * would find the slot changed and drop an entry still owed to a peer that was cut off.
   */
  reencrypted(appId: number, previous: StoreRecord, record: StoreRecord): void {
    const entry = this.#journal.get(slotOf(appId, record.key))
    if (entry === undefined || entry.updatedAtMs !== previous.updatedAtMs || entry.fingerprint !== fingerprintOfRecord(previous)) return
    this.#journal.set(slotOf(appId, record.key), { ...entry, fingerprint: fingerprintOfRecord(record) })
  }

  /**
   * Journals a local write (PUT or DELETE) as it is made. The tick's scan would find it too,
   * but only while its `updated_at_ms` is inside the scan's window: a write made just after
   * the host moved the clock back by more than a tick gap is stamped behind it, and would
   * stay on this node (the §6.8 limit this closes). A record journaled here is skipped by
   * the scan, which finds the same (updated_at_ms, fingerprint).
   */
  wroteLocally(appId: number, record: StoreRecord): void {
    this.#record(appId, record.key, record.updatedAtMs, fingerprintOfRecord(record), undefined, undefined)
  }

  /**
   * Journals the local changes since the last scan: records whose `updated_at_ms` is in the §6.8
   * window and whose slot has no entry for exactly them (so not a merge already journaled).
   * Returns the window's lower bound.
   */
  #scan(store: Pick<KvStore, 'selectDelta'>, nowMs: number): number {
    // The window reaches one tick gap back, so a clock the host moved back by up to a tick
    // between two scans still finds the writes stamped meanwhile; a clock found behind the last
    // scan moved back by more, and the whole store is scanned (already journaled records skip).
    const overlap = Math.min(Math.max(this.#lastGapMs, MIN_SCAN_OVERLAP_MS), MAX_SCAN_OVERLAP_MS)
    const since = this.#lastScanMs === 0 || nowMs < this.#lastScanMs ? 0 : Math.max(this.#lastScanMs - overlap - 1, 0)
    if (this.#lastScanMs !== 0 && nowMs > this.#lastScanMs) this.#lastGapMs = nowMs - this.#lastScanMs
    for (const [app, records] of Object.entries(store.selectDelta(since))) {
      const appId = Number(app)
      for (const record of records) {
        const entry = this.#journal.get(slotOf(appId, record.key))
        const fingerprint = fingerprintOf(record)
        if (entry !== undefined && entry.updatedAtMs === record.updated_at_ms && entry.fingerprint === fingerprint) continue
        this.#record(appId, record.key, record.updated_at_ms, fingerprint, undefined, undefined)
      }
    }
    this.#lastScanMs = nowMs
    return since
  }

  /**
   * Drops entries whose slot holds another record now (a later change has its own entry) or
   * none, and entries every cached peer has passed once the scan can no longer meet them.
   * Returns the current wire record of each entry still owed to some peer.
   */
  #sweep(store: JournalStore, scanSince: number): Map<string, WireRecord> {
    let passed = Number.POSITIVE_INFINITY
    for (const cursor of this.#peers.values()) passed = Math.min(passed, cursor.through)
    // With no cursor at all, every peer is due a first contact (the whole store): nothing is owed.
    const current = new Map<string, WireRecord>()
    for (const [slot, entry] of this.#journal) {
      const record = store.peekWire?.(entry.appId, entry.key)
      const stale = record === undefined || record.updated_at_ms !== entry.updatedAtMs || fingerprintOf(record) !== entry.fingerprint
      if (stale || (entry.seq <= passed && entry.updatedAtMs < scanSince)) {
        this.#journal.delete(slot)
        continue
      }
      if (entry.seq > passed) current.set(slot, record)
    }
    return current
  }

  /** True once the entry's writer has said `peer` took its own writes up to the entry's stamp. */
  #acknowledged(entry: JournalEntry, peer: Wallet): boolean {
    if (entry.source === undefined || entry.stamp === undefined) return false
    const said = this.#acksFrom.get(entry.source)
    return said !== undefined && said.stream === entry.stamp.stream && (said.acks.get(peer) ?? -1) >= entry.stamp.seq
  }

  #acksFor(peer: Wallet): Record<string, number> {
    const acks: Record<string, number> = {}
    for (const [wallet, cursor] of this.#peers) if (wallet !== peer) acks[wallet] = cursor.ownAcked
    return acks
  }

  #planFor(peer: Wallet, store: JournalStore, current: ReadonlyMap<string, WireRecord>, top: number, maxBodyBytes: number): PeerPlan {
    const stream = this.#stream!
    const acks = this.#acksFor(peer)
    const acksText = JSON.stringify(acks)
    const cursor = this.#peers.get(peer)
    // Own entries are never deferred: once this push is taken, the peer has every one up to here.
    const ownTopAtPlan = this.#ownSeq
    const refused = { seq: Number.POSITIVE_INFINITY, any: false }
    const seqOf = (app: string, key: string): number => this.#journal.get(slotOf(Number(app), key))?.seq ?? 0
    const noteRefusals = (body: PlannedBody, answer: Record<string, unknown>): void => {
      const from = answer['refused_ahead_from_ms']
      const aheadFrom = typeof from === 'number' && Number.isSafeInteger(from) ? from : undefined
      const epochs = refusedKeyEpochs(answer['refused_key_epochs'])
      if (aheadFrom === undefined && epochs === undefined) return
      refused.any = true
      for (const [app, group] of Object.entries(body.data)) {
        for (const record of group) {
          const ahead = aheadFrom !== undefined && record.updated_at_ms >= aheadFrom
          const epochRefused = epochs !== undefined && !record.tombstone && epochs.has(record.key_epoch ?? 0)
          if (ahead || epochRefused) refused.seq = Math.min(refused.seq, seqOf(app, record.key))
        }
      }
    }

    if (cursor === undefined) {
      // First contact (or back in the cache): the whole store, as §6.8 always did for a new
      // peer, records ahead of this node's clock included, since the cursor then passes every
      // entry. Relayed, so the receiver never waits on an acknowledgement for any of it.
      const data = store.snapshot?.() ?? store.selectDelta(0)
      const bodies = splitDelta(data, maxBodyBytes).map((part) => ({ data: part, fields: { stream, relayed: true, acks } }))
      return {
        bodies,
        records: countRecords(data),
        answered: noteRefusals,
        commit: () => {
          // A refusal means another first contact next tick, from the whole store again.
          if (!refused.any) this.#peers.set(peer, { through: top, sentUpTo: top, lastTick: this.#tick, ownAcked: ownTopAtPlan, acksSent: acksText })
        },
      }
    }

    const own: WireData = {}
    const relayed: WireData = {}
    let firstDeferred = Number.POSITIVE_INFINITY
    for (const [slot, entry] of this.#journal) {
      if (entry.seq <= cursor.through) continue
      if (entry.source === peer) continue // echo: it came from there
      const record = current.get(slot)
      if (record === undefined) continue
      const awaitsAck = entry.stamp !== undefined
      // Sent at the last push unless it was then waiting for its writer's acknowledgement.
      const deferredThen = awaitsAck && cursor.lastTick - entry.tick < RELAY_DELAY_TICKS
      if (entry.seq <= cursor.sentUpTo && !deferredThen) continue
      if (awaitsAck && this.#acknowledged(entry, peer)) continue
      if (awaitsAck && this.#tick - entry.tick < RELAY_DELAY_TICKS) {
        firstDeferred = Math.min(firstDeferred, entry.seq)
        continue
      }
      const target = entry.source === undefined ? own : relayed
      ;(target[String(entry.appId)] ??= []).push(record)
    }
    const bodies: PlannedBody[] = []
    for (const part of splitDelta(own, maxBodyBytes)) {
      let stamp = 0
      for (const [app, group] of Object.entries(part)) for (const record of group) stamp = Math.max(stamp, seqOf(app, record.key))
      bodies.push({ data: part, fields: { stream, stamp, acks } })
    }
    for (const part of splitDelta(relayed, maxBodyBytes)) bodies.push({ data: part, fields: { stream, relayed: true, acks } })
    // Nothing to send, but others' acknowledgements changed: they still need to hear them.
    if (bodies.length === 0 && acksText !== cursor.acksSent) bodies.push({ data: {}, fields: { stream, acks } })
    return {
      bodies,
      records: countRecords(own) + countRecords(relayed),
      answered: noteRefusals,
      commit: () => {
        const held = Math.min(firstDeferred - 1, refused.seq - 1)
        cursor.through = Math.min(top, held)
        cursor.sentUpTo = Math.min(top, refused.seq - 1)
        cursor.lastTick = this.#tick
        cursor.ownAcked = Math.max(cursor.ownAcked, Math.min(ownTopAtPlan, refused.seq - 1))
        cursor.acksSent = acksText
      },
    }
  }

}

function fingerprintOfRecord(record: StoreRecord): number {
  return fingerprintOf({ key: record.key, value: record.tombstone ? null : bytesToHex(record.ciphertext), version: {}, updated_at_ms: record.updatedAtMs, tombstone: record.tombstone, ttl_ms: record.ttlMs })
}

/** The most epochs read from a `refused_key_epochs` answer: at most two are ever live (§7.7). */
const MAX_REFUSED_EPOCHS = 4

/** `refused_key_epochs` (§4.3): a short array of epoch numbers, or `undefined` when absent or malformed. */
function refusedKeyEpochs(raw: unknown): Set<number> | undefined {
  if (!Array.isArray(raw) || raw.length === 0 || raw.length > MAX_REFUSED_EPOCHS) return undefined
  const epochs = new Set<number>()
  for (const epoch of raw) if (typeof epoch === 'number' && Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffff_ffff) epochs.add(epoch)
  return epochs.size === 0 ? undefined : epochs
}
