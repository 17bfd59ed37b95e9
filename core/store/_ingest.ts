/** The delta and snapshot receiver (PROTOCOL §4.3): validate each record (§6.7), then merge it (§6.6). */
import { isSkipReason, type MergeReason, type SkipReason } from './mergeRecord'
import { parseAppId, parseWireRecord, type WireRecordRules } from './parseWireRecord'
import type { StoreRecord } from './storeRecord'

/**
 * Whether `ciphertext` decrypts under `data_key(appId, keyEpoch)` (§6.7); must resolve, never
 * reject. An epoch the node does not hold (not yet installed, or wiped) resolves `false`. A
 * function of the first two parameters still type-checks, but it then ignores the epoch, which
 * is right only while every record is of epoch 0.
 */
export type CanDecrypt = (appId: number, ciphertext: Uint8Array, keyEpoch: number) => Promise<boolean>

/** The §4.3 delta answer counts, with `total = merged + skipped + rejected`. */
export interface IngestResult {
  total: number
  merged: number
  skipped: number
  rejected: number
  /** Only the §6.6 outcomes that keep the stored record. */
  skip_reasons: Partial<Record<SkipReason, number>>
}

export interface IngestContext {
  readonly rules: WireRecordRules
  readonly canDecrypt: CanDecrypt
  readonly merge: (appId: number, record: StoreRecord) => MergeReason
}

/** Never throws on any `data`: as in (c), a non-object or a non-array group counts nothing. */
export async function ingestWireData(data: unknown, context: IngestContext): Promise<IngestResult> {
  const result: IngestResult = { total: 0, merged: 0, skipped: 0, rejected: 0, skip_reasons: {} }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return result
  for (const appText of Object.keys(data)) {
    const group: unknown = (data as Record<string, unknown>)[appText]
    if (!Array.isArray(group)) continue
    const appId = parseAppId(appText)
    for (const raw of group as unknown[]) {
      result.total++
      const record = appId === undefined ? undefined : parseWireRecord(raw, context.rules)
      // A tombstone carries no ciphertext, so only values face the decryption check.
      const accepted =
        appId !== undefined &&
        record !== undefined &&
        (record.tombstone || (await context.canDecrypt(appId, record.ciphertext, record.keyEpoch)))
      if (!accepted) {
        result.rejected++
        continue
      }
      const reason = context.merge(appId, record)
      if (!isSkipReason(reason)) result.merged++
      else {
        result.skipped++
        result.skip_reasons[reason] = (result.skip_reasons[reason] ?? 0) + 1
      }
    }
  }
  return result
}
