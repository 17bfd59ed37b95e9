/**
 * One bounded page of the snapshot (PROTOCOL §4.3 `snapshot_request` with `max_bytes`): the
 * records in (app_id ascending, key by code point) order that come strictly after a cursor,
 * as many as fit in a byte budget. The cursor is the position of the last record sent, not
 * an offset, so a page boundary stays put under concurrent writes: a write behind the cursor
 * is not in this snapshot (the writer's delta push delivers it), a write ahead of it is.
 */
import { canonicalJson, compareCodePoints, utf8Length } from '../encoding'
import type { StoreRecord } from './storeRecord'
import { toWireRecord, type WireData, type WireRecord } from './wireRecord'

/** The (app_id, key) of the last record a page holds. */
export interface SnapshotCursor {
  appId: number
  key: string
}

export interface SnapshotPage {
  data: WireData
  /** Where the next page starts (after this record); `null` when this page is the last. */
  next: SnapshotCursor | null
}

/** What a page reads of a namespace. */
export interface SnapshotSource {
  records(): Iterable<StoreRecord>
}

const EMPTY = 2 // `{}`

/**
 * The page after `after` (from the start when `null`), whose `data` has canonical JSON (§0) of
 * at most `maxBytes` UTF-8 bytes, counted as `splitDelta` counts. A record that alone exceeds
 * the budget gets a page of its own, so a page always makes progress. The caller has purged
 * (§6.3); tombstones are included, recency is untouched (§6.4).
 */
export function snapshotPage(namespaces: ReadonlyMap<number, SnapshotSource>, after: SnapshotCursor | null, maxBytes: number): SnapshotPage {
  const apps = [...namespaces.keys()].filter((appId) => after === null || appId >= after.appId).sort((a, b) => a - b)
  const data: WireData = {}
  let bytes = EMPTY
  let last: SnapshotCursor | null = null
  for (const appId of apps) {
    let records = [...namespaces.get(appId)!.records()]
    if (after !== null && appId === after.appId) records = records.filter((record) => compareCodePoints(record.key, after.key) > 0)
    if (records.length === 0) continue
    records.sort((a, b) => compareCodePoints(a.key, b.key))
    const app = String(appId)
    const overhead = utf8Length(canonicalJson(app)) + 3 // the key, `:` and `[]`
    let group: WireRecord[] | undefined
    for (const record of records) {
      const wire = toWireRecord(record)
      const size = utf8Length(canonicalJson(wire))
      // A new group costs its overhead and, after another group, a `,`; a record after a record, a `,`.
      const cost = group === undefined ? overhead + size + (bytes === EMPTY ? 0 : 1) : size + 1
      if (bytes !== EMPTY && bytes + cost > maxBytes) return { data, next: last }
      if (group === undefined) data[app] = group = []
      group.push(wire)
      bytes += cost
      last = { appId, key: record.key }
    }
  }
  return { data, next: null }
}
