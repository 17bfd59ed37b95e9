/**
 * JSON text beyond what the canonical writer (PROTOCOL §0) produces, for hostile inner
 * payloads: raw tokens (`1e309`, `-0`, `1.5`, `9007199254740993`, deep nesting), objects
 * with duplicate members, and strings with lone surrogates written as `\ud800` escapes, so
 * that the node's `JSON.parse` yields exactly the hostile value.
 *
 * @module
 */

/** A JSON text taken as it is. */
export class Raw {
  constructor(readonly text: string) {}
  toJSON(): string {
    return `<raw ${this.text.length > 80 ? `${this.text.slice(0, 80)}…(${this.text.length})` : this.text}>`
  }
}

/** An object written member by member, duplicates included. */
export class Dup {
  constructor(readonly entries: readonly (readonly [string, J])[]) {}
}

/** A value that can be written as JSON text; `undefined` members are left out, as by JSON.stringify. */
export type J = null | boolean | number | string | Raw | Dup | readonly J[] | { readonly [key: string]: J | undefined }

/**
 * The JSON text of `value`. Strings go through `JSON.stringify`, which writes lone
 * surrogates as `\uXXXX` escapes; a non-finite number becomes `1e309`/`-1e309` (which parse
 * back to ±Infinity), and `-0` stays `-0`.
 */
export function jsonText(value: J): string {
  if (value === null) return 'null'
  if (value instanceof Raw) return value.text
  if (value instanceof Dup) return `{${value.entries.map(([key, item]) => `${JSON.stringify(key)}:${jsonText(item)}`).join(',')}}`
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return JSON.stringify(value)
    case 'number':
      if (Number.isNaN(value)) return 'null'
      if (value === Infinity) return '1e309'
      if (value === -Infinity) return '-1e309'
      if (Object.is(value, -0)) return '-0'
      return JSON.stringify(value)
    default:
      break
  }
  if (Array.isArray(value)) return `[${value.map((item) => jsonText(item)).join(',')}]`
  const members: string[] = []
  for (const [key, item] of Object.entries(value as Record<string, J | undefined>)) {
    if (item === undefined) continue
    members.push(`${JSON.stringify(key)}:${jsonText(item)}`)
  }
  return `{${members.join(',')}}`
}

/** A safe-for-logs description of a case (long strings shortened). */
export function describeCase(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'string' && item.length > 120) return `${item.slice(0, 60)}…(${item.length} units)…${item.slice(-20)}`
    if (typeof item === 'number' && !Number.isFinite(item)) return String(item)
    if (item instanceof Uint8Array) return `<${item.length} bytes>`
    return item
  })
}

/**
 * The canonical-JSON-safe form of `value` for a writer that only takes safe integers and
 * writes strings literally (the sync requester's envelope): every part it cannot write
 * as-is (a raw token, duplicates, an unsafe or negative-zero number, a string or member name
 * that is not well-formed UTF-16, too deep a nesting) becomes a placeholder string, and its
 * JSON text is kept in `raws`, to be put back into the plaintext just before encryption.
 */
export function withPlaceholders(value: J, raws: string[], depth = 0): unknown {
  const placeholder = (text: string): string => {
    raws.push(text)
    return `${PLACEHOLDER_PREFIX}${raws.length - 1}@@`
  }
  if (depth > 40) return placeholder(jsonText(value))
  if (value === null || typeof value === 'boolean') return value
  if (value instanceof Raw) return placeholder(value.text)
  if (value instanceof Dup) return placeholder(jsonText(value))
  if (typeof value === 'number') return Number.isSafeInteger(value) && !Object.is(value, -0) ? value : placeholder(jsonText(value))
  if (typeof value === 'string') return isWellFormedUtf16(value) && !value.includes(PLACEHOLDER_PREFIX) ? value : placeholder(JSON.stringify(value))
  if (Array.isArray(value)) return value.map((item: J) => withPlaceholders(item, raws, depth + 1))
  const entries = Object.entries(value as Record<string, J | undefined>)
  if (entries.some(([key]) => !isWellFormedUtf16(key) || key.includes(PLACEHOLDER_PREFIX))) return placeholder(jsonText(value))
  const out: Record<string, unknown> = {}
  for (const [key, item] of entries) {
    if (item === undefined) continue
    // `__proto__` as a plain assignment would set the prototype, not a member.
    Object.defineProperty(out, key, { value: withPlaceholders(item, raws, depth + 1), enumerable: true, writable: true, configurable: true })
  }
  return out
}

export const PLACEHOLDER_PREFIX = '@@RAW:'

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g

/** True when `text` has no lone surrogate (String.prototype.isWellFormed, ES2024). */
export function isWellFormedUtf16(text: string): boolean {
  return text.search(LONE_SURROGATE) === -1
}

/** `text` with each lone surrogate replaced by U+FFFD (String.prototype.toWellFormed). */
export function toWellFormedUtf16(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd')
}

/** Puts the raw texts back into a canonical JSON plaintext made from `withPlaceholders` output. */
export function restorePlaceholders(plaintext: string, raws: readonly string[]): string {
  return plaintext.replace(/"@@RAW:(\d+)@@"/g, (_match, index: string) => raws[Number(index)]!)
}
