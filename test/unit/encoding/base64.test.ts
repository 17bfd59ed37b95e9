import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToBase64, parseAttestationNonce, parseBase64, parseBase64Text } from '../../../core/encoding'

describe('base64 (PROTOCOL §0, RFC 4648 §4)', () => {
  it('vector: RFC 4648 §10 test vectors', () => {
    const cases: [string, string][] = [
      ['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy'],
    ]
    for (const [plain, encoded] of cases) {
      const bytes = new TextEncoder().encode(plain)
      expect(bytesToBase64(bytes)).toBe(encoded)
      expect(parseBase64(encoded)).toEqual(bytes)
    }
  })
  it('error: strict decoding rejects whitespace, bad padding, foreign characters and trailing bits', () => {
    for (const text of ['Zm9v\n', ' Zm9v', 'Zg', 'Zg=', 'Zg===', 'Z===', 'Zm9v-_==', 'Zh==', 'Zm9=', 'Zm=v', '====']) {
      expect(parseBase64(text), text).toBeUndefined()
    }
  })
  it('property: round trip for any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      expect(parseBase64(bytesToBase64(bytes))).toEqual(bytes)
    }))
  })
  it('behavior: the attestation text rule strips whitespace and accepts url-safe and unpadded', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0xbf, 0x01)
    expect(bytesToBase64(bytes)).toBe('+/+/AQ==')
    for (const text of ['+/+/AQ==', '-_-_AQ', '+/+/\nAQ==', ' -_-_ AQ']) expect(parseBase64Text(text)).toEqual(bytes)
    expect(parseBase64Text('+/+/A')).toBeUndefined()
  })
  it('behavior: the /attestation nonce takes padded standard base64 with spaces for +, or unpadded base64url', () => {
    const bytes = Uint8Array.of(0xfb, 0xff, 0xbf, 0x01)
    expect(parseAttestationNonce(' / /AQ==')).toEqual(bytes)
    expect(parseAttestationNonce('-_-_AQ')).toEqual(bytes)
    expect(parseAttestationNonce('-_-_AQ==')).toBeUndefined()
    expect(parseAttestationNonce('+/+/AQ')).toBeUndefined()
  })
})
