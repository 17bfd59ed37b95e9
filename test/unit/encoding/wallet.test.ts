import { describe, expect, it } from 'vitest'
import { isCanonicalWallet, parseWallet } from '../../../core/encoding'

describe('wallet canonical form (PROTOCOL §0, conformance 6)', () => {
  it('behavior: mixed case, 0X and missing prefix canonicalise to lowercase 0x', () => {
    const canonical = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
    for (const text of ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '0Xf39fd6e51aad88f6f4ce6ab8827279cfffb92266', 'f39fd6e51aad88f6f4ce6ab8827279cfffb92266', '  0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266\n']) {
      expect(parseWallet(text)).toBe(canonical)
    }
    expect(isCanonicalWallet(canonical)).toBe(true)
    expect(isCanonicalWallet('0xF39fd6e51aad88f6f4ce6ab8827279cfffb92266')).toBe(false)
  })
  it('error: wrong lengths and non-hex are not wallets', () => {
    for (const text of ['', '0x', '0x1234', '0xg39fd6e51aad88f6f4ce6ab8827279cfffb92266', '0xf39fd6e51aad88f6f4ce6ab8827279cfffb9226600']) {
      expect(parseWallet(text)).toBeUndefined()
    }
  })
})
