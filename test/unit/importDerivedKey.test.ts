/** `importDerivedKey` (issue 17): non-extractable, and the raw bytes zeroed whatever happens. */
import { describe, expect, test } from 'vitest'
import { importDerivedKey } from '../../core/client'

describe('importDerivedKey', () => {
  test('behavior: an HMAC key that signs but cannot be exported; the bytes it came from are zeroed', async () => {
    const bytes = new Uint8Array(32).fill(7)
    const key = await importDerivedKey(bytes, { algorithm: { name: 'HMAC', hash: 'SHA-256' }, usages: ['sign'] })
    expect(key.extractable).toBe(false)
    expect(bytes.every((byte) => byte === 0)).toBe(true)
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow()
    expect((await crypto.subtle.sign('HMAC', key, new Uint8Array(1))).byteLength).toBe(32)
  })

  test('error: a failed import still zeroes the bytes', async () => {
    const bytes = new Uint8Array(7).fill(9)
    await expect(importDerivedKey(bytes, { algorithm: { name: 'AES-GCM' }, usages: ['encrypt'] })).rejects.toThrow()
    expect(bytes.every((byte) => byte === 0)).toBe(true)
  })
})
