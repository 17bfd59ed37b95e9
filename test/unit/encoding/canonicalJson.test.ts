import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../../core/encoding'

describe('canonical JSON (PROTOCOL §0, conformance 3–5)', () => {
  it('vector: nested keys are sorted and whitespace is dropped', () => {
    expect(canonicalJson(JSON.parse('{"b":1,"a":{"d":1,"c":2}}'))).toBe('{"a":{"c":2,"d":1},"b":1}')
  })
  it('vector: a key with U+1F600 sorts after a key U+FFFF (code point, not UTF-16 order)', () => {
    expect(canonicalJson({ '\u{1F600}': 1, '\uFFFF': 2 })).toBe('{"\uFFFF":2,"\u{1F600}":1}')
    expect(canonicalJson({ b: 1, a: 2, é: 3, A: 4 })).toBe('{"A":4,"a":2,"b":1,"é":3}')
  })
  it('vector: non-ASCII and / are literal; controls use short escapes or \\u00xx lowercase', () => {
    expect(canonicalJson('é/\u0001\u001f"\\\b\f\n\r\t')).toBe('"é/\\u0001\\u001f\\"\\\\\\b\\f\\n\\r\\t"')
  })
  it('behavior: arrays keep their order; undefined members are omitted', () => {
    expect(canonicalJson({ z: [3, 1, 2], y: undefined, x: [true, false, null] })).toBe('{"x":[true,false,null],"z":[3,1,2]}')
  })
  it('error: non-integers and unsafe integers are refused', () => {
    expect(() => canonicalJson({ a: 1.5 })).toThrow(RangeError)
    expect(() => canonicalJson(2 ** 53)).toThrow(RangeError)
    expect(() => canonicalJson(Number.NaN)).toThrow(RangeError)
  })
})
