/** The strict CBOR decoder (ATTESTATION.md §2 step 2): the accepted subset and its limits. */
import { describe, expect, test } from 'vitest'
import { AttestationError, type AttestationErrorCode } from '../../../core/attestation'
import { CBOR_MAX_DEPTH, CBOR_MAX_ITEMS, decodeCbor, type CborItem } from '../../../core/attestation/cbor'
import { parseHex } from '../../../core/encoding'

function hex(text: string): Uint8Array {
  return parseHex(text.replace(/\s/g, ''))!
}

function failure(input: Uint8Array, allowTopTag = false): AttestationErrorCode | undefined {
  try {
    decodeCbor(input, allowTopTag)
    return undefined
  } catch (error) {
    if (error instanceof AttestationError) return error.attestationCode
    throw error
  }
}

function plain(item: CborItem): unknown {
  switch (item.type) {
    case 'array':
      return item.items.map(plain)
    case 'map':
      return item.entries.map(([key, value]) => [plain(key), plain(value)])
    case 'tag':
      return { tag: item.tag, item: plain(item.item) }
    case 'bytes':
      return Array.from(item.value)
    default:
      return item.value
  }
}

describe('accepted subset', () => {
  test.each([
    ['00', 0],
    ['17', 23],
    ['1818', 24],
    ['1903e8', 1000],
    ['1a000f4240', 1_000_000],
    ['1b001fffffffffffff', Number.MAX_SAFE_INTEGER],
    ['1b0020000000000000', 2n ** 53n],
    ['1bffffffffffffffff', 2n ** 64n - 1n],
    ['20', -1],
    ['3903e7', -1000],
    ['3b001ffffffffffffe', -Number.MAX_SAFE_INTEGER],
    ['3b001fffffffffffff', -(2n ** 53n)],
    ['3bffffffffffffffff', -(2n ** 64n)],
    ['f4', false],
    ['f5', true],
    ['f6', null],
    ['6449455446', 'IETF'],
    ['62c3bc', 'ü'],
    ['4401020304', [1, 2, 3, 4]],
    ['40', []],
  ])('vector: %s decodes to %s', (input, expected) => {
    expect(plain(decodeCbor(hex(input)))).toEqual(expected)
  })

  test('vector: non-shortest integers and lengths are accepted (nothing is re-encoded)', () => {
    expect(plain(decodeCbor(hex('1b0000000000000001')))).toBe(1)
    expect(plain(decodeCbor(hex('5800')))).toEqual([])
    expect(plain(decodeCbor(hex('b9000161610a')))).toEqual([['a', 10]])
  })

  test('vector: definite and indefinite arrays and maps', () => {
    expect(plain(decodeCbor(hex('83010203')))).toEqual([1, 2, 3])
    expect(plain(decodeCbor(hex('9f0102039f04ffff')))).toEqual([1, 2, 3, [4]])
    expect(plain(decodeCbor(hex('bf6161016162bf0102ffff')))).toEqual([['a', 1], ['b', [[1, 2]]]])
    expect(plain(decodeCbor(hex('a201020304')))).toEqual([[1, 2], [3, 4]])
  })

  test('behavior: byte strings are views of their exact input range', () => {
    const input = hex('8243aabbcc4101')
    const item = decodeCbor(input)
    if (item.type !== 'array') throw new Error('array expected')
    const first = item.items[0]!
    if (first.type !== 'bytes') throw new Error('bytes expected')
    expect(first.value.buffer).toBe(input.buffer)
    expect(first.value.byteOffset).toBe(2)
    expect([first.start, first.end]).toEqual([1, 5])
    expect([item.start, item.end]).toEqual([0, 7])
  })

  test('behavior: a BOM is kept, so "\\uFEFFnonce" is not "nonce"', () => {
    expect(failure(hex('a2 656e6f6e6365 f6 68efbbbf6e6f6e6365 f6'))).toBeUndefined()
  })

  test('behavior: one top-level tag only when allowed', () => {
    expect(plain(decodeCbor(hex('d28101'), true))).toEqual({ tag: 18, item: [1] })
    expect(plain(decodeCbor(hex('d81281f6'), true))).toEqual({ tag: 18, item: [null] })
    expect(failure(hex('d28101'))).toBe('ATTESTATION_CBOR_MALFORMED')
  })
})

describe('rejections', () => {
  test.each([
    ['a truncated argument', '19 01'],
    ['a truncated byte string', '45 0102'],
    ['a truncated array', '83 0102'],
    ['a missing break', '9f 01 02'],
    ['trailing bytes', '01 01'],
    ['a stray break', 'ff'],
    ['a break after a definite item', '01 ff'],
    ['a break inside a definite array', '82 01 ff'],
    ['a break as a map value', 'bf 01 ff'],
    ['reserved additional info 28', '1c'],
    ['reserved additional info 30', '5e'],
    ['an indefinite integer', '1f'],
    ['a chunked byte string', '5f 4101 ff'],
    ['a chunked text string', '7f 6161 ff'],
    ['undefined', 'f7'],
    ['a one-byte simple value', 'f8 20'],
    ['an unassigned simple value', 'e0'],
    ['a half float', 'f9 3c00'],
    ['a single float', 'fa 47c35000'],
    ['a double float', 'fb 3ff199999999999a'],
    ['an inner tag', '81 d2 01'],
    ['a tag inside the tag', 'd2 d2 80'],
    ['an indefinite tag', 'df 80'],
    ['invalid UTF-8', '62 c328'],
    ['an overlong UTF-8 encoding', '62 c0af'],
    ['a UTF-8 surrogate', '63 eda080'],
    ['a byte-string map key', 'a1 4101 01'],
    ['an array map key', 'a1 80 01'],
    ['a null map key', 'a1 f6 01'],
    ['a length beyond the input', '5a ffffffff 00'],
    ['a huge 64-bit length', '5b 0100000000000000 00'],
    ['a length above 2^53', '5b ffffffffffffffff 00'],
    ['an array count beyond the input', '9a 00010000 00'],
    ['a map count beyond the input', 'a3 0101 0202'],
    ['empty input', ''],
  ])('error: %s is CBOR_MALFORMED', (_name, input) => {
    expect(failure(hex(input), true)).toBe('ATTESTATION_CBOR_MALFORMED')
  })

  test.each([
    ['a repeated text key', 'a2 616101 616102'],
    ['a repeated integer key', 'a2 0101 0102'],
    ['the same integer in a non-shortest form', 'a2 0101 180101'],
    ['a repeated key in an indefinite map', 'bf 616101 616102 ff'],
    ['a repeated key at depth 4', '81 81 81 a2 0001 0002'],
    ['a repeated negative key', 'a2 2001 3800 02'],
  ])('error: %s is CBOR_DUPLICATE_KEY', (_name, input) => {
    expect(failure(hex(input))).toBe('ATTESTATION_CBOR_DUPLICATE_KEY')
  })

  test('behavior: an integer key and a text key of the same digits are distinct', () => {
    expect(failure(hex('a2 0101 613101'))).toBeUndefined()
  })

  test(`behavior: depth ${CBOR_MAX_DEPTH} is accepted, ${CBOR_MAX_DEPTH + 1} is not`, () => {
    const nested = (depth: number): Uint8Array => Uint8Array.of(...new Array<number>(depth - 1).fill(0x81), 0x80)
    expect(failure(nested(CBOR_MAX_DEPTH))).toBeUndefined()
    expect(failure(nested(CBOR_MAX_DEPTH + 1))).toBe('ATTESTATION_CBOR_MALFORMED')
    // Indefinite containers count the same, maps too.
    expect(failure(Uint8Array.of(...new Array<number>(CBOR_MAX_DEPTH).fill(0x9f), ...new Array<number>(CBOR_MAX_DEPTH).fill(0xff)))).toBeUndefined()
    expect(failure(Uint8Array.of(...new Array<number>(CBOR_MAX_DEPTH).fill(0xa1).flatMap((b) => [b, 0x00]), 0x00))).toBe(
      'ATTESTATION_CBOR_MALFORMED',
    )
  })

  test('behavior: deep nesting far beyond the limit fails cleanly (no stack overflow)', () => {
    expect(failure(new Uint8Array(100_000).fill(0x81))).toBe('ATTESTATION_CBOR_MALFORMED')
    expect(failure(new Uint8Array(100_000).fill(0x9f))).toBe('ATTESTATION_CBOR_MALFORMED')
  })

  test(`behavior: ${CBOR_MAX_ITEMS} items per decode are accepted, one more is not`, () => {
    const array = (count: number): Uint8Array => Uint8Array.of(0x99, count >> 8, count & 0xff, ...new Array<number>(count).fill(0))
    expect(failure(array(CBOR_MAX_ITEMS - 1))).toBeUndefined() // the array itself is an item
    expect(failure(array(CBOR_MAX_ITEMS))).toBe('ATTESTATION_CBOR_MALFORMED')
  })
})
