/**
 * Readers for Odyn's JSON answers (PROTOCOL §10.1). The helper is outside our code, so its
 * answers are parsed like any other outside bytes: a missing field, a wrong type or a wrong
 * length is a helper failure (503), named by field, never by content.
 */
import { parseHex } from '../encoding'
import { helperFailure, type OdynCall } from './_odynHttp'

export type OdynAnswer = Readonly<Record<string, unknown>>

export function readAnswer(call: OdynCall, payload: unknown): OdynAnswer {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw helperFailure(call, 'malformed response: not a JSON object')
  }
  return payload as OdynAnswer
}

export function readString(call: OdynCall, answer: OdynAnswer, field: string): string {
  const value = answer[field]
  if (typeof value !== 'string') throw helperFailure(call, `malformed response: field '${field}' is not a string`)
  return value
}

/**
 * A hex field, `0x` optional (§0: input may carry it either way).
 * @param length exact byte length, or `{ min }`.
 */
export function readHex(
  call: OdynCall,
  answer: OdynAnswer,
  field: string,
  length: number | { min: number },
): Uint8Array {
  const bytes = parseHex(readString(call, answer, field))
  const fits = bytes !== undefined && (typeof length === 'number' ? bytes.length === length : bytes.length >= length.min)
  if (!fits) throw helperFailure(call, `malformed response: field '${field}' is not the expected hex`)
  return bytes
}

const SIGNATURE_TEXT = /^0x[0-9a-fA-F]{130}$/

/**
 * A `/v1/eth/sign` signature field: `0x` + 130 hex, `r ‖ s ‖ v` with v ∈ {0, 1, 27, 28}
 * (§10.1: Odyn generations differ). What the node puts on the wire must have v ∈ {0, 1}
 * (§3.1.2 last paragraph), because the runtime's KMS client rejects 27 and 28 (RUNTIME.md §1),
 * so 27/28 is normalised to 0/1 here and the hex lowercased; r and s pass through unchanged.
 * @returns `0x` + 130 lowercase hex digits with v ∈ {0, 1}.
 */
export function readSignature(call: OdynCall, answer: OdynAnswer, field: string): `0x${string}` {
  const text = readString(call, answer, field)
  const v = SIGNATURE_TEXT.test(text) ? Number.parseInt(text.slice(130), 16) : undefined
  const recovery = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined
  if (recovery === undefined) throw helperFailure(call, `malformed response: field '${field}' is not r‖s‖v`)
  return `0x${text.slice(2, 130).toLowerCase()}0${recovery}`
}
