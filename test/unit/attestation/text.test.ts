/** ATTESTATION.md §1 "Text input": named formats, limits, and the CLI's fixed detection rule. */
import { describe, expect, test } from 'vitest'
import {
  AttestationError,
  decodeAttestationText,
  detectAttestationFormat,
  type AttestationErrorCode,
} from '../../../core/attestation'
import { bytesToBase64, bytesToHex } from '../../../core/encoding'
import { loadNitroFixtures } from '../../helpers/nitro/fixtures'

const fixtures = loadNitroFixtures()

function failure(action: () => unknown): AttestationErrorCode | undefined {
  try {
    action()
    return undefined
  } catch (error) {
    if (error instanceof AttestationError) return error.attestationCode
    throw error
  }
}

describe('decodeAttestationText', () => {
  const document = fixtures[0]!.document
  const base64 = bytesToBase64(document)

  test('vector: base64 with line breaks, URL-safe or unpadded decodes to the same bytes', () => {
    const wrapped = base64.replace(/.{76}/g, '$&\r\n') + '\n'
    const urlSafe = base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
    for (const text of [base64, wrapped, urlSafe, ` ${base64}\t`]) {
      expect(bytesToHex(decodeAttestationText(text, 'base64'))).toBe(bytesToHex(document))
    }
  })

  test('vector: hex with or without 0x, in either case', () => {
    for (const text of [bytesToHex(document), `0x${bytesToHex(document)}`, bytesToHex(document).toUpperCase()]) {
      expect(bytesToHex(decodeAttestationText(text, 'hex'))).toBe(bytesToHex(document))
    }
  })

  test.each([
    ['base64', 'hES!'],
    ['base64', 'hES=x'],
    ['base64', 'a'],
    ['base64', ''],
    ['base64', 'hESé'],
    ['hex', '84a'],
    ['hex', '84 44'],
    ['hex', '0x'],
    ['hex', 'zz'],
  ] as const)('error: %s %j is INPUT_ENCODING', (format, text) => {
    expect(failure(() => decodeAttestationText(text, format))).toBe('ATTESTATION_INPUT_ENCODING')
  })

  test('error: text over 64 KiB is INPUT_TOO_LARGE, 64 KiB exactly is decoded', () => {
    expect(failure(() => decodeAttestationText('A'.repeat(65_537), 'base64'))).toBe('ATTESTATION_INPUT_TOO_LARGE')
    expect(failure(() => decodeAttestationText('é'.repeat(40_000), 'base64'))).toBe('ATTESTATION_INPUT_TOO_LARGE')
    expect(decodeAttestationText('A'.repeat(65_536), 'base64')).toHaveLength(49_152)
  })

  test('error: an unknown format is a caller bug (OPTIONS_INVALID)', () => {
    expect(failure(() => decodeAttestationText('00', 'binary' as 'hex'))).toBe('ATTESTATION_OPTIONS_INVALID')
  })
})

describe('detectAttestationFormat', () => {
  test.each(fixtures)('vector: $name as raw bytes, base64 and hex', ({ document }) => {
    const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)
    expect(detectAttestationFormat(document)).toBe('cbor')
    expect(detectAttestationFormat(Uint8Array.of(0xd2, ...document))).toBe('cbor')
    expect(detectAttestationFormat(bytesToBase64(document))).toBe('base64')
    expect(detectAttestationFormat(ascii(bytesToBase64(document)))).toBe('base64')
    expect(bytesToBase64(document).startsWith('hES')).toBe(true)
    expect(bytesToBase64(Uint8Array.of(0xd2, ...document)).startsWith('0oR')).toBe(true)
    expect(detectAttestationFormat(bytesToHex(document))).toBe('hex')
    expect(detectAttestationFormat(ascii(`0x${bytesToHex(document)}\n`))).toBe('hex')
  })

  test('behavior: the rule is fixed, not a guess: hex-looking text is hex', () => {
    expect(detectAttestationFormat('deadbeef')).toBe('hex') // also valid base64
    expect(detectAttestationFormat(' 0xDEAD\nBEEF ')).toBe('hex')
    expect(detectAttestationFormat('0x')).toBe('hex')
    expect(detectAttestationFormat('hES=')).toBe('base64')
    expect(detectAttestationFormat(Uint8Array.of(0xff, 0x00))).toBe('base64')
  })
})
