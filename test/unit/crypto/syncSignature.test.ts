import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { computeSyncSignature, deriveSyncKey, hmacSha256, verifySyncSignature } from '../../../core/crypto'
import { bytesToHex, utf8ToBytes } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface HmacCase extends VectorCase {
  master_secret: string
  envelope: { sender_tee_pubkey: string; nonce: string; encrypted_data: string }
  canonical: string
  expected: string
}

const vectors = loadVectors(protocol)
const [vector] = casesOf<HmacCase>(vectors, 'sync_hmac')

describe('sync HMAC (PROTOCOL §5.4)', () => {
  test.each(casesOf<HmacCase>(vectors, 'sync_hmac'))('vector: $name', async (vector) => {
    const syncKey = await deriveSyncKey(hex(vector.master_secret))
    expect(await computeSyncSignature(syncKey, vector.envelope)).toBe(vector.expected)
    expect(bytesToHex(await hmacSha256(syncKey, utf8ToBytes(vector.canonical)))).toBe(vector.expected)
    expect(await verifySyncSignature({ syncKey, body: vector.envelope, signature: vector.expected })).toBe(true)
  })

  test('behavior: the header may carry 0x and upper case (§0)', async () => {
    const syncKey = await deriveSyncKey(hex(vector!.master_secret))
    const signature = `0x${vector!.expected.toUpperCase()}`
    expect(await verifySyncSignature({ syncKey, body: vector!.envelope, signature })).toBe(true)
  })

  test('behavior: key order of the received body does not matter (canonical JSON)', async () => {
    const syncKey = await deriveSyncKey(hex(vector!.master_secret))
    const body = { nonce: 'bb', encrypted_data: 'aa', sender_tee_pubkey: 'cc' }
    expect(await verifySyncSignature({ syncKey, body, signature: vector!.expected })).toBe(true)
  })

  test('error: a wrong, short, non-hex or unsigned-body signature does not verify', async () => {
    const syncKey = await deriveSyncKey(hex(vector!.master_secret))
    const body = vector!.envelope
    const flipped = (vector!.expected.startsWith('0') ? '1' : '0') + vector!.expected.slice(1)
    expect(await verifySyncSignature({ syncKey, body, signature: flipped })).toBe(false)
    expect(await verifySyncSignature({ syncKey, body, signature: vector!.expected.slice(2) })).toBe(false)
    expect(await verifySyncSignature({ syncKey, body, signature: `${vector!.expected}00` })).toBe(false)
    expect(await verifySyncSignature({ syncKey, body, signature: 'zz'.repeat(32) })).toBe(false)
    expect(await verifySyncSignature({ syncKey, body, signature: '' })).toBe(false)
    expect(await verifySyncSignature({ syncKey, body: { ...body, extra: 1 }, signature: vector!.expected })).toBe(false)
  })

  test('error: a body canonical JSON cannot hold (a float) does not verify', async () => {
    const syncKey = await deriveSyncKey(hex(vector!.master_secret))
    const body = { ...vector!.envelope, extra: 1.5 }
    expect(await verifySyncSignature({ syncKey, body, signature: vector!.expected })).toBe(false)
  })

  test('error: an empty HMAC key is a caller bug', async () => {
    await expect(hmacSha256(new Uint8Array(0), new Uint8Array(1))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: key: expected at least 1 byte, got 0]`,
    )
  })

  test('property: hmacSha256 agrees with noble', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 100 }), fc.uint8Array({ maxLength: 300 }), async (key, message) => {
        expect(bytesToHex(await hmacSha256(key, message))).toBe(bytesToHex(hmac(sha256, key, message)))
      }),
      { numRuns: 60 },
    )
  })
})
