/**
 * Base64 codecs. The wire form (PROTOCOL §0) is RFC 4648 §4: standard alphabet, `=`
 * padding, no whitespace, zero trailing bits. Two callers need looser text rules, and say
 * so by name: `parseBase64Text` (ATTESTATION.md §1, published documents with line breaks)
 * and `parseAttestationNonce` (PROTOCOL §2.9).
 */

const STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

function decodeTable(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1)
  for (let index = 0; index < 64; index++) table[alphabet.charCodeAt(index)] = index
  return table
}

const STANDARD_TABLE = decodeTable(STANDARD)
const URL_SAFE_TABLE = decodeTable(URL_SAFE)
const EITHER_TABLE = decodeTable(STANDARD)
EITHER_TABLE['-'.charCodeAt(0)] = 62
EITHER_TABLE['_'.charCodeAt(0)] = 63

/** Standard base64 with padding. */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = ''
  let index = 0
  for (; index + 2 < bytes.length; index += 3) {
    const triple = (bytes[index]! << 16) | (bytes[index + 1]! << 8) | bytes[index + 2]!
    out +=
      STANDARD[triple >> 18]! +
      STANDARD[(triple >> 12) & 63]! +
      STANDARD[(triple >> 6) & 63]! +
      STANDARD[triple & 63]!
  }
  const rest = bytes.length - index
  if (rest === 1) {
    const value = bytes[index]!
    out += STANDARD[value >> 2]! + STANDARD[(value & 3) << 4]! + '=='
  } else if (rest === 2) {
    const value = (bytes[index]! << 8) | bytes[index + 1]!
    out += STANDARD[value >> 10]! + STANDARD[(value >> 4) & 63]! + STANDARD[(value & 15) << 2]! + '='
  }
  return out
}

type Padding = 'required' | 'optional' | 'forbidden'

function decode(text: string, table: Int16Array, padding: Padding): Uint8Array | undefined {
  let end = text.length
  let pad = 0
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */ && pad < 3) {
    end--
    pad++
  }
  if (pad > 0 && padding === 'forbidden') return undefined
  if (padding === 'required' && text.length % 4 !== 0) return undefined
  if (pad > 0 && text.length % 4 !== 0) return undefined
  const remainder = end % 4
  if (remainder === 1 || pad > 2) return undefined
  if (pad > 0 && (remainder === 0 || (4 - remainder) !== pad)) return undefined
  const out = new Uint8Array(Math.floor((end * 3) / 4))
  let accumulator = 0
  let bits = 0
  let written = 0
  for (let index = 0; index < end; index++) {
    const code = text.charCodeAt(index)
    const value = code < 128 ? table[code]! : -1
    if (value < 0) return undefined
    accumulator = ((accumulator << 6) | value) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[written++] = (accumulator >> bits) & 0xff
    }
  }
  // RFC 4648 §3.5: the unused bits of the last character must be zero.
  if (bits > 0 && (accumulator & ((1 << bits) - 1)) !== 0) return undefined
  return out
}

/**
 * Strict wire base64 (PROTOCOL §0).
 * @returns the bytes, or `undefined` for whitespace, a bad padding, a foreign character or
 *   non-zero trailing bits.
 */
export function parseBase64(text: string): Uint8Array | undefined {
  return decode(text, STANDARD_TABLE, 'required')
}

/**
 * The ATTESTATION.md §1 text rule: ASCII whitespace is stripped, the standard or the
 * URL-safe alphabet is accepted, and padding is optional.
 */
export function parseBase64Text(text: string): Uint8Array | undefined {
  return decode(text.replace(/[\t\n\f\r ]/g, ''), EITHER_TABLE, 'optional')
}

/**
 * The `nonce` parameter of `GET /attestation` (PROTOCOL §2.9): spaces (a `+` that a form
 * decoder turned into a space) become `+`, then standard padded base64 or unpadded base64url.
 */
export function parseAttestationNonce(text: string): Uint8Array | undefined {
  const restored = text.replace(/ /g, '+')
  return decode(restored, STANDARD_TABLE, 'required') ?? decode(restored, URL_SAFE_TABLE, 'forbidden')
}
