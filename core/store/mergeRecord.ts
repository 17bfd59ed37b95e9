/** The merge rule for an incoming record R against the stored record S (PROTOCOL §6.6). */
import { compareBytes } from '../encoding'
import type { StoreRecord } from './storeRecord'
import { compareClocks, mergeClocks } from './vectorClock'

/** The §6.6 outcome names, as reported in a delta answer's `skip_reasons` (§4.3). */
export type MergeReason =
  | 'inserted'
  | 'replaced_by_version'
  | 'ignored_equal_version'
  | 'ignored_existing_newer_version'
  | 'replaced_by_concurrent_lww'
  | 'ignored_concurrent_tie_break'

/** The outcomes that keep S: the only ones counted in `skip_reasons` (§4.3). */
export type SkipReason = Extract<MergeReason, `ignored_${string}`>

/** What `mergeRecord` decided (§6.6). */
export interface MergeOutcome {
  readonly reason: MergeReason
  /** What the key holds after the merge: `stored` itself when the reason is a skip. */
  readonly record: StoreRecord
}

/** True for the reasons that keep the stored record: the §4.3 `skip_reasons`. */
export function isSkipReason(reason: MergeReason): reason is SkipReason {
  return reason.startsWith('ignored_')
}

/** Merges `incoming` into `stored` (absent: no record for the key) by the §6.6 table. */
export function mergeRecord(stored: StoreRecord | undefined, incoming: StoreRecord): MergeOutcome {
  if (stored === undefined) return { reason: 'inserted', record: incoming }
  switch (compareClocks(stored.clock, incoming.clock)) {
    case 'before':
      return { reason: 'replaced_by_version', record: incoming }
    case 'equal':
      // Deviation from §6.6 (documented in the README): equal clocks can carry different
      // values after a restart or an expiry reset a writer's counter. Keeping S there would
      // leave replicas apart forever, so a different value goes through the same tie-break.
      if (sameContent(incoming, stored) || !incomingWins(incoming, stored)) return { reason: 'ignored_equal_version', record: stored }
      return { reason: 'replaced_by_concurrent_lww', record: incoming }
    case 'after':
      return { reason: 'ignored_existing_newer_version', record: stored }
    case 'concurrent':
      // A full tie (same content) stores the joined clock too (project rule, docs §6.6): kept
      // as it was, each replica would hold the one value under its own clock, a write made on
      // top of the narrower clock would look concurrent with the wider one and could lose by
      // time alone, and under a non-transitive partition a wider clock stops at the first
      // replica that ties with it. The join only ever grows, so the pushes it causes end.
      if (!sameContent(incoming, stored) && !incomingWins(incoming, stored)) return { reason: 'ignored_concurrent_tie_break', record: stored }
      // Fields named one by one: a held record keeps `ciphertext` and `clock` behind getters, which a spread would drop.
      return {
        reason: 'replaced_by_concurrent_lww',
        record: {
          key: incoming.key,
          ciphertext: incoming.ciphertext,
          keyEpoch: incoming.keyEpoch,
          clock: mergeClocks(stored.clock, incoming.clock),
          updatedAtMs: incoming.updatedAtMs,
          tombstone: incoming.tombstone,
          ttlMs: incoming.ttlMs,
        },
      }
  }
}

/** §6.6 "same content": the same `updated_at_ms`, `tombstone`, `key_epoch` and ciphertext. */
function sameContent(left: StoreRecord, right: StoreRecord): boolean {
  return (
    left.updatedAtMs === right.updatedAtMs &&
    left.tombstone === right.tombstone &&
    left.keyEpoch === right.keyEpoch &&
    compareBytes(left.ciphertext, right.ciphertext) === 0
  )
}

/**
 * §6.6: the later `updated_at_ms`, then the higher `key_epoch`, then the bytewise-greater
 * ciphertext; a full tie keeps S (but a concurrent one joins the clocks, above). The epoch comes before the bytes so that a re-encrypted copy
 * of a write (§6.10: same clock, same `updated_at_ms`) beats its own older-epoch copy on every
 * replica, and no replica goes back to an epoch about to be retired. It never beats a causally
 * newer write: the clocks decide that before this tie-break is reached.
 */
function incomingWins(incoming: StoreRecord, stored: StoreRecord): boolean {
  if (incoming.updatedAtMs !== stored.updatedAtMs) return incoming.updatedAtMs > stored.updatedAtMs
  if (incoming.keyEpoch !== stored.keyEpoch) return incoming.keyEpoch > stored.keyEpoch
  return compareBytes(incoming.ciphertext, stored.ciphertext) > 0
}
