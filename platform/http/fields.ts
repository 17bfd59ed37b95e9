/**
 * Readers for the fields of a JSON request body. Each failure is a 400 whose message names
 * the field and what was expected, never the value.
 */
import { parseBase64, parseHex } from '../../core/encoding'
import type { JsonObject } from './readJsonObject'
import { badRequest } from './runtimeApiError'

// A JSON string can carry a lone surrogate ("\ud800"), which has no UTF-8 form.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** True if `text` holds a UTF-16 surrogate without its pair, which has no UTF-8 form. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text)
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null
}

/** A string field that must encode as UTF-8; `nonEmpty` also refuses `""`. */
export function readString(body: JsonObject, field: string, options: { nonEmpty?: boolean; default?: string } = {}): string {
  const value = body[field]
  if (isAbsent(value) && options.default !== undefined) return options.default
  if (typeof value !== 'string') throw badRequest(`'${field}' must be a string`)
  if (hasLoneSurrogate(value)) throw badRequest(`'${field}' is not valid UTF-8`)
  if (options.nonEmpty === true && value === '') throw badRequest(`'${field}' must not be empty`)
  return value
}

/** An optional boolean, `false` when absent. */
export function readFlag(body: JsonObject, field: string): boolean {
  const value = body[field]
  if (isAbsent(value)) return false
  if (typeof value !== 'boolean') throw badRequest(`'${field}' must be a boolean`)
  return value
}

/** Hex bytes, `0x` optional (RUNTIME.md §2), of an exact length or of any length. */
export function readHex(body: JsonObject, field: string, length?: number): Uint8Array {
  const bytes = parseHex(readString(body, field))
  if (bytes === undefined) throw badRequest(`'${field}' is not valid hex`)
  if (length !== undefined && bytes.length !== length) throw badRequest(`'${field}' must be ${length} bytes, got ${bytes.length}`)
  return bytes
}

/** Standard padded base64 bytes. */
export function readBase64(body: JsonObject, field: string): Uint8Array {
  const bytes = parseBase64(readString(body, field))
  if (bytes === undefined) throw badRequest(`'${field}' is not valid base64`)
  return bytes
}

/** An integer in `[min, max]`, the default when absent. */
export function readInteger(body: JsonObject, field: string, { min, max, default: fallback }: { min: number; max: number; default: number }): number {
  const value = body[field]
  if (isAbsent(value)) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw badRequest(`'${field}' must be an integer`)
  if (value < min || value > max) throw badRequest(`'${field}' must be in range ${min}..${max}`)
  return value
}

/** A JSON object field, `undefined` when absent. */
export function readObject(body: JsonObject, field: string): JsonObject | undefined {
  const value = body[field]
  if (isAbsent(value)) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest(`'${field}' must be a JSON object`)
  return value as JsonObject
}
