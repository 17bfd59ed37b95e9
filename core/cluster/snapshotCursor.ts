/**
 * The paginated snapshot of PROTOCOL §4.3: the `snapshot_request` cursor on the wire, the
 * byte budget of a page, and the bounds a requester keeps while it pulls pages.
 *
 * A cursor is `<app_id decimal>:<lowercase hex of the key's UTF-8 bytes>`: the position of
 * the last record of the previous page in (app_id ascending, key by code point) order.
 */
import { bytesToHex, compareCodePoints, parseHex, parseUtf8, utf8ToBytes } from '../encoding'
import type { SnapshotCursor } from '../store'

/** A page is never cut below this many bytes of `data`, whatever `max_bytes` asks. */
export const MIN_SNAPSHOT_PAGE_BYTES = 65_536
/** A requester stops after this many pages (1024 × ~25 MiB is far more than any store). */
export const MAX_SNAPSHOT_PAGES = 1024
/** A requester gives up on a snapshot that takes longer than this, all pages together. */
export const SNAPSHOT_PULL_DEADLINE_MS = 300_000

const CURSOR = /^([1-9][0-9]{0,15}):((?:[0-9a-f]{2}){1,1024})$/

/** The longest cursor: 16 digits, `:` and 2048 hex digits. */
export const MAX_CURSOR_LENGTH = 16 + 1 + 2048

/**
 * The `data` budget of one `/sync` body under `maxSyncPayloadBytes` (§6.8 step 3, §4.3): the
 * envelope carries the ciphertext of the canonical payload as hex, which doubles it, and the
 * rest of the payload and the envelope fields take less than 4 KiB after doubling.
 */
export function syncDataBudget(maxSyncPayloadBytes: number): number {
  return Math.max(1024, Math.floor(maxSyncPayloadBytes / 2) - 4096)
}

export function encodeSnapshotCursor(cursor: SnapshotCursor): string {
  return `${cursor.appId}:${bytesToHex(utf8ToBytes(cursor.key))}`
}

/** The cursor, or `undefined` for anything that is not one (wrong shape, app id, hex or UTF-8). */
export function parseSnapshotCursor(text: string): SnapshotCursor | undefined {
  if (text.length > MAX_CURSOR_LENGTH) return undefined
  const match = CURSOR.exec(text)
  if (match === null) return undefined
  const appId = Number(match[1])
  if (!Number.isSafeInteger(appId)) return undefined
  const keyBytes = parseHex(match[2]!)
  const key = keyBytes === undefined ? undefined : parseUtf8(keyBytes)
  return key === undefined ? undefined : { appId, key }
}

/** (app_id, key) order: negative when `a` comes first. */
export function compareSnapshotCursors(a: SnapshotCursor, b: SnapshotCursor): number {
  return a.appId !== b.appId ? a.appId - b.appId : compareCodePoints(a.key, b.key)
}
