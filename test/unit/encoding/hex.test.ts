import { describe, expect, it } from 'vitest'
import { bytesToHex, parseHex } from '../../../core/encoding'

describe('hex (PROTOCOL §0)', () => {
  it('behavior: output is lowercase without 0x', () => {
    expect(bytesToHex(Uint8Array.of(0, 0xab, 0xff))).toBe('00abff')
  })
  it('behavior: input accepts 0x, 0X and either case', () => {
    for (const text of ['0xABff', '0XabFF', 'abFF']) expect(parseHex(text)).toEqual(Uint8Array.of(0xab, 0xff))
    expect(parseHex('')).toEqual(new Uint8Array(0))
  })
  it('error: odd length and non-hex characters are invalid', () => {
    for (const text of ['abc', '0xg0', 'zz', ' ab', 'ab ', '0x0x00']) expect(parseHex(text)).toBeUndefined()
  })
})
