/**
 * Hex codec (PROTOCOL §0). Output is lowercase without `0x`; input may carry `0x`/`0X` and
 * either case. An odd length or a non-hex character is invalid.
 */

const HEX_DIGITS = '0123456789abcdef'
const BYTE_TO_HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) =>
  HEX_DIGITS[byte >> 4]! + HEX_DIGITS[byte & 15]!,
)

/**
 * Lowercase hex of `bytes`, without a prefix. Built with `join`, not `+=`: V8 keeps a string
 * grown by `+=` as a rope of small pieces, about 10× its flat size, and these strings live
 * long (replay-memory keys, stored records on the wire).
 */
export function bytesToHex(bytes: Uint8Array): string {
  const pairs = new Array<string>(bytes.length)
  for (let index = 0; index < bytes.length; index++) pairs[index] = BYTE_TO_HEX[bytes[index]!]!
  return pairs.join('')
}

function nibble(code: number): number {
  if (code >= 48 && code <= 57) return code - 48 // 0-9
  if (code >= 97 && code <= 102) return code - 87 // a-f
  if (code >= 65 && code <= 70) return code - 55 // A-F
  return -1
}

/**
 * Parses hex text, with or without `0x`, in either case.
 * @returns the bytes, or `undefined` when the text is not valid hex.
 */
export function parseHex(text: string): Uint8Array | undefined {
  const digits = text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text
  if (digits.length % 2 !== 0) return undefined
  const out = new Uint8Array(digits.length / 2)
  for (let index = 0; index < out.length; index++) {
    const high = nibble(digits.charCodeAt(2 * index))
    const low = nibble(digits.charCodeAt(2 * index + 1))
    if (high < 0 || low < 0) return undefined
    out[index] = (high << 4) | low
  }
  return out
}
