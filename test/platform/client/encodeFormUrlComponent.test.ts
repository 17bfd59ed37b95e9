/** RUNTIME.md §1: the GET key is form-urlencoded. */
import { describe, expect, it } from 'vitest'
import { encodeFormUrlComponent } from '../../../core/client'

describe('encodeFormUrlComponent', () => {
  it('vector: "/" is %2F and a space is +, unlike encodeURIComponent', () => {
    expect(encodeFormUrlComponent('dir/a key')).toBe('dir%2Fa+key')
    expect(encodeURIComponent('dir/a key')).toBe('dir%2Fa%20key')
  })

  it('vector: a literal + is %2B, so it cannot be read back as a space', () => {
    expect(encodeFormUrlComponent('a+b')).toBe('a%2Bb')
    expect(encodeFormUrlComponent('é~*')).toBe('%C3%A9%7E*')
  })
})
