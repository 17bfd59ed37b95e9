/**
 * Canonical JSON (PROTOCOL §0): keys sorted by Unicode code point, recursively; no
 * whitespace; minimal string escapes; integers only. It is the HMAC input and every
 * envelope plaintext, so it must be byte-identical to every other implementation.
 */

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/**
 * Maps a UTF-16 code unit so that comparing mapped units orders strings by code point:
 * surrogates (U+D800–DFFF, i.e. code points ≥ U+10000) must sort after U+E000–FFFF.
 */
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800
  if (unit >= 0xd800) return unit + 0x2000
  return unit
}

/** Orders two strings by Unicode code point (the UTF-8 byte order), not by UTF-16 unit. */
export function compareCodePoints(left: string, right: string): number {
  const shared = Math.min(left.length, right.length)
  for (let index = 0; index < shared; index++) {
    const a = left.charCodeAt(index)
    const b = right.charCodeAt(index)
    if (a !== b) return codePointRank(a) - codePointRank(b)
  }
  return left.length - right.length
}

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
}

function writeString(text: string): string {
  let out = '"'
  let runStart = 0
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code >= 0x20 && code !== 0x22 && code !== 0x5c) continue
    out += text.slice(runStart, index)
    out += SHORT_ESCAPES[code] ?? '\\u00' + code.toString(16).padStart(2, '0')
    runStart = index + 1
  }
  return out + text.slice(runStart) + '"'
}

function write(value: unknown, depth: number): string {
  if (depth > 64) throw new RangeError('canonical JSON: nesting deeper than 64')
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'string':
      return writeString(value)
    case 'number':
      if (!Number.isSafeInteger(value)) throw new RangeError('canonical JSON: only safe integers are allowed')
      return String(value)
    case 'object': {
      if (Array.isArray(value)) return '[' + value.map((item) => write(item, depth + 1)).join(',') + ']'
      const record = value as Record<string, unknown>
      const keys = Object.keys(record).sort(compareCodePoints)
      const members: string[] = []
      for (const key of keys) {
        if (record[key] === undefined) continue
        members.push(writeString(key) + ':' + write(record[key], depth + 1))
      }
      return '{' + members.join(',') + '}'
    }
    default:
      throw new TypeError(`canonical JSON: unsupported ${typeof value}`)
  }
}

/**
 * Serialises `value` canonically. Object members whose value is `undefined` are omitted,
 * like `JSON.stringify`.
 * @throws RangeError for a non-integer or unsafe number, or nesting deeper than 64;
 *   TypeError for a value JSON cannot hold. Callers holding untrusted parsed JSON map these.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0)
}
