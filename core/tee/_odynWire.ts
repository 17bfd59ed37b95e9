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
