/**
 * Background re-encryption of a store to a newer key epoch (PROTOCOL §6.10): a resumable
 * cursor over every namespace, and the batch that moves at most `limit` values to the target
 * epoch per call.
 *
 * The cursor is a pair of live Map iterators (the namespaces, then one namespace's records),
 * kept between batches, so successive batches go on where the last one stopped instead of
 * rescanning: O(1) memory, and each record is met once per pass. ECMAScript defines what a live
 * iterator sees: a key first stored after the pass started is still met in this pass; a key
 * replaced in place is not met again. A record that arrives under the old epoch behind the
 * cursor (a merge of an older node's copy over a key already passed) waits for the next pass,
 * which starts when the cursor reaches the end while records below the target remain.
 */
import type { EpochCounts } from './_epochCounts'
import type { Namespace } from './_namespace'
import { isKeyEpoch, type StoreRecord } from './storeRecord'

export interface ReencryptBatchParams {
  /** The epoch to re-encrypt to: the node's serving epoch (§7.7). */
  readonly targetEpoch: number
  /** At most this many records are visited (REENCRYPT_RECORDS_PER_TICK, §7.7). */
  readonly limit: number
  /**
   * The record's plaintext under `data_key(appId, targetEpoch)`, with the deterministic nonce of
   * §6.10. Must resolve to a ciphertext of the record's length (AES-GCM keeps it); a rejection
   * counts as a failure and leaves the record as it is.
   */
  readonly reencrypt: (appId: number, record: StoreRecord) => Promise<Uint8Array>
}

/**
 * What a caller learns beyond the counts. The §6.8 journal (core/cluster/peerWatermarks.ts)
 * tells a record from a later one by a fingerprint of its value, so it must hear of each
 * re-encryption to keep an entry it still owes a peer (and not take it for a local write).
 */
export interface ReencryptObserver {
  /** `previous` was replaced by `record`: the same write, now under the target epoch. */
  reencrypted?(appId: number, previous: StoreRecord, record: StoreRecord): void
}

export interface ReencryptBatchResult {
  /** Records now at the target epoch. */
  reencrypted: number
  /** Non-tombstones still below the target after the batch (`recordsBelowEpoch`). */
  remaining: number
  /** Records whose `reencrypt` rejected, or resolved to another length; they are kept as they were. */
  failed: number
  /** The first failure: the rejection's reason, or a RangeError for a length; for the caller's log. */
  failure?: unknown
}

/** A record the cursor met below the target, with where it was met. */
interface Visit {
  readonly appId: number
  readonly namespace: Namespace
  readonly record: StoreRecord
}

interface Position {
  readonly apps: Iterator<[number, Namespace]>
  current: { readonly appId: number; readonly namespace: Namespace; readonly records: Iterator<StoreRecord> } | undefined
}

/** Where re-encryption stands in a store's namespaces; one per store, kept between batches. */
export class ReencryptionCursor {
  readonly #namespaces: ReadonlyMap<number, Namespace>
  #position: Position | undefined

  constructor(namespaces: ReadonlyMap<number, Namespace>) {
    this.#namespaces = namespaces
  }

  /** The next non-tombstone below `targetEpoch`; `undefined` once at the end (the next call starts a new pass). */
  next(targetEpoch: number): Visit | undefined {
    const position = (this.#position ??= { apps: this.#namespaces.entries(), current: undefined })
    for (;;) {
      const current = position.current
      if (current !== undefined) {
        for (let step = current.records.next(); step.done !== true; step = current.records.next()) {
          const record = step.value
          if (!record.tombstone && record.keyEpoch < targetEpoch) return { appId: current.appId, namespace: current.namespace, record }
        }
      }
      const app = position.apps.next()
      if (app.done === true) {
        this.#position = undefined
        return undefined
      }
      const [appId, namespace] = app.value
      position.current = { appId, namespace, records: namespace.records() }
    }
  }

  /** Forgets the position (the store was cleared, or nothing is left to do): the iterators are released. */
  reset(): void {
    this.#position = undefined
  }
}

export interface ReencryptionState {
  readonly namespaces: ReadonlyMap<number, Namespace>
  readonly epochs: EpochCounts
  readonly cursor: ReencryptionCursor
}

/**
 * One batch (§6.10). `reencrypt` runs one record at a time; while it is awaited the store may
 * change, so its result is stored only if the key still holds the very record it was given
 * (not replaced, deleted, purged, evicted, dropped or re-encrypted by another batch), and is
 * otherwise discarded, counted nowhere (the key's new record is met again if it is below the
 * target). Within one batch a record is tried at most once, and the cursor wraps at most once,
 * so a record that always fails can never hold a batch.
 * @throws RangeError for a `targetEpoch` outside 0..2^32 − 1 or a `limit` that is not a safe integer ≥ 0.
 */
export async function reencryptBatch(state: ReencryptionState, params: ReencryptBatchParams, observer?: ReencryptObserver): Promise<ReencryptBatchResult> {
  const { targetEpoch, limit, reencrypt } = params
  if (!isKeyEpoch(targetEpoch)) throw new RangeError('reencryptBatch: targetEpoch must be an integer in 0..2^32-1')
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('reencryptBatch: limit must be a safe integer >= 0')
  const result: ReencryptBatchResult = { reencrypted: 0, remaining: 0, failed: 0 }
  const fail = (reason: unknown): void => {
    result.failed++
    if (!('failure' in result)) result.failure = reason
  }
  const tried = new Set<StoreRecord>()
  let ends = 0
  while (tried.size < limit && state.epochs.below(targetEpoch) > 0) {
    const visit = state.cursor.next(targetEpoch)
    if (visit === undefined) {
      if (++ends === 2) break
      continue
    }
    const { appId, namespace, record } = visit
    if (tried.has(record)) continue
    tried.add(record)
    let ciphertext: Uint8Array
    try {
      ciphertext = await reencrypt(appId, record)
    } catch (error) {
      // Kept as it was: a record that cannot be re-encrypted now is tried again next pass.
      fail(error)
      continue
    }
    if (state.namespaces.get(appId) !== namespace || !namespace.holds(record)) continue
    if (ciphertext.length !== record.ciphertext.length) {
      fail(new RangeError(`reencryptBatch: a re-encrypted value must keep its length ${record.ciphertext.length}, got ${ciphertext.length}`))
      continue
    }
    const stored = namespace.reencrypt(record, ciphertext, targetEpoch)
    result.reencrypted++
    observer?.reencrypted?.(appId, record, stored)
  }
  result.remaining = state.epochs.below(targetEpoch)
  if (result.remaining === 0) state.cursor.reset()
  return result
}
