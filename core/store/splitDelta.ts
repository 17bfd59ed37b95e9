/** Cuts wire data into `/sync` bodies that each stay within a byte budget (PROTOCOL §6.8 step 3). */
import { canonicalJson, utf8Length } from '../encoding'
import type { WireData, WireRecord } from './wireRecord'

const EMPTY = 2 // `{}`

/**
 * Splits `data` by app, then by records, so that the canonical JSON (§0) of every part is at
 * most `maxBytes` UTF-8 bytes. An app group that fits in one part is never cut; a group that
 * does not is cut between records, filling each part before starting the next. A record that
 * alone exceeds the budget still gets a part of its own (which then exceeds `maxBytes`), so
 * that one record cannot stall every later push. Records keep their order and appear once.
 * `maxBytes` bounds the `data` object only: the caller subtracts the rest of the delta
 * payload and the envelope's growth (its ciphertext travels as hex, §5.6) from
 * MAX_SYNC_PAYLOAD_BYTES.
 */
export function splitDelta(data: Readonly<Record<string, readonly WireRecord[]>>, maxBytes: number): WireData[] {
  const parts: WireData[] = []
  let part: WireData = {}
  let partBytes = EMPTY
  for (const [app, records] of Object.entries(data)) {
    if (records.length === 0) continue
    const sizes = records.map((record) => utf8Length(canonicalJson(record)))
    const overhead = utf8Length(canonicalJson(app)) + 3 // the key, `:` and `[]`
    const whole = overhead + sizes.reduce((sum, size) => sum + size, 0) + sizes.length - 1
    if (partBytes !== EMPTY && partBytes + 1 + whole > maxBytes && EMPTY + whole <= maxBytes) {
      parts.push(part)
      part = {}
      partBytes = EMPTY
    }
    let group: WireRecord[] | undefined
    for (let index = 0; index < records.length; index++) {
      const size = sizes[index]!
      // A new group costs its overhead and, after another group, a `,`; a record after a record, a `,`.
      let cost = group === undefined ? overhead + size + (partBytes === EMPTY ? 0 : 1) : size + 1
      if (partBytes !== EMPTY && partBytes + cost > maxBytes) {
        parts.push(part)
        part = {}
        partBytes = EMPTY
        group = undefined
        cost = overhead + size
      }
      if (group === undefined) part[app] = group = []
      group.push(records[index]!)
      partBytes += cost
    }
  }
  if (partBytes !== EMPTY) parts.push(part)
  return parts
}
