/**
 * Attestation documents as text (ATTESTATION.md §1 "Text input"). Callers name the format;
 * nothing guesses, because a hex string is also valid base64. Only a tool that must accept
 * several forms unannounced (the operator CLI) uses `detectAttestationFormat`, whose rule is
 * fixed rather than a guess.
 */
import { parseBase64Text, parseHex, utf8Length } from '../encoding'
import { AttestationError } from './errors'

/** 64 KiB of text: four times the largest document, with room for line breaks. */
export const ATTESTATION_TEXT_MAX_BYTES = 65_536

export type AttestationTextFormat = 'base64' | 'hex'
export type AttestationInputFormat = 'cbor' | AttestationTextFormat

const ASCII_WHITESPACE = /[\t\n\f\r ]/g
const HEX_DIGITS = /^[0-9a-fA-F]*$/
/** The first byte of a COSE_Sign1: an untagged array of 4 (`84`), or tag 18 (`d2`). */
const UNTAGGED_COSE_SIGN1 = 0x84
const COSE_SIGN1_TAG = 0xd2

/**
 * Decodes document text in the named format.
 * - base64: ASCII whitespace is stripped; standard or URL-safe alphabet; padding optional.
 * - hex: an optional `0x`, even length, hex digits only.
 * @throws AttestationError `ATTESTATION_INPUT_TOO_LARGE` (text over 64 KiB),
 *   `ATTESTATION_INPUT_ENCODING` (bad or empty text), `ATTESTATION_OPTIONS_INVALID` (an
 *   unknown format or a non-string: a caller bug).
 */
export function decodeAttestationText(text: string, format: AttestationTextFormat): Uint8Array {
  if (typeof text !== 'string' || (format !== 'base64' && format !== 'hex')) {
    throw new AttestationError('ATTESTATION_OPTIONS_INVALID')
  }
  // UTF-16 length is a lower bound of the UTF-8 length, so the cheap test comes first.
  if (text.length > ATTESTATION_TEXT_MAX_BYTES || utf8Length(text) > ATTESTATION_TEXT_MAX_BYTES) {
    throw new AttestationError('ATTESTATION_INPUT_TOO_LARGE')
  }
  const bytes = format === 'base64' ? parseBase64Text(text) : parseHex(text)
  if (bytes === undefined || bytes.length === 0) throw new AttestationError('ATTESTATION_INPUT_ENCODING')
  return bytes
}

/**
 * The fixed rule of ATTESTATION.md §1 for tools that accept several forms: input whose first
 * byte is `84` or `d2` is raw CBOR; text that, with ASCII whitespace and an optional `0x`
 * removed, is only hex digits is hex; anything else is base64. A base64 COSE_Sign1 starts
 * with `hES` or `0oR`, which are not hex, so no real document is misread.
 * @param input the bytes as received (a file), or text.
 */
export function detectAttestationFormat(input: Uint8Array | string): AttestationInputFormat {
  let text: string
  if (typeof input === 'string') {
    text = input
  } else {
    if (input[0] === UNTAGGED_COSE_SIGN1 || input[0] === COSE_SIGN1_TAG) return 'cbor'
    text = ''
    // Only ASCII can be hex; the first non-ASCII byte settles it.
    for (const byte of input) {
      if (byte >= 0x80) return 'base64'
      text += String.fromCharCode(byte)
    }
  }
  const digits = text.replace(ASCII_WHITESPACE, '')
  const unprefixed = digits.startsWith('0x') || digits.startsWith('0X') ? digits.slice(2) : digits
  return HEX_DIGITS.test(unprefixed) ? 'hex' : 'base64'
}
