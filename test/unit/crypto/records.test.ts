import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import { decryptRecord, deriveDataKey, encryptRecord, importRecordKey } from '../../../core/crypto'
import { bytesToHex, utf8ToBytes } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from './_errors'
import { casesOf, hex, loadVectors, type RecordCase } from './_vectors'

const vectors = loadVectors(protocol)

async function someKey(fill: number) {
  return importRecordKey(new Uint8Array(32).fill(fill))
}

describe('AES-GCM records (PROTOCOL §5.3)', () => {
  test.each(casesOf<RecordCase>(vectors, 'record'))('vector: $name', async (vector) => {
    const key = await importRecordKey(await deriveDataKey(hex(vector.master_secret), vector.app_id))
    const stored = await encryptRecord(key, utf8ToBytes(vector.plaintext), hex(vector.nonce))
    expect(bytesToHex(stored)).toBe(vector.expected)
    expect(await decryptRecord(key, stored)).toEqual(utf8ToBytes(vector.plaintext))
  })

  test('behavior: an empty value is stored as exactly 28 bytes', async () => {
    const key = await someKey(1)
    const stored = await encryptRecord(key, new Uint8Array(0), new Uint8Array(12))
    expect(stored.length).toBe(28)
    expect(await decryptRecord(key, stored)).toEqual(new Uint8Array(0))
  })

  test('property: encrypt then decrypt returns the plaintext', async () => {
    const key = await someKey(2)
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), async (plaintext, nonce) => {
        const stored = await encryptRecord(key, plaintext, nonce)
        expect(stored.length).toBe(plaintext.length + 28)
        expect(await decryptRecord(key, stored)).toEqual(plaintext)
      }),
      { numRuns: 50 },
    )
  })

  test('property: any flipped bit fails to decrypt', async () => {
    const key = await someKey(3)
    const stored = await encryptRecord(key, utf8ToBytes('value'), new Uint8Array(12).fill(9))
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: stored.length * 8 - 1 }), async (bit) => {
        const tampered = stored.slice()
        tampered[bit >> 3]! ^= 1 << (bit & 7)
        expect(await rejectionBody(decryptRecord(key, tampered))).toEqual({
          code: 'decryption_failed',
          message: 'Decryption failed',
        })
      }),
      { numRuns: 40 },
    )
  })

  test('error: a value shorter than 28 bytes is decryption_failed', async () => {
    const key = await someKey(4)
    expect(await rejectionBody(decryptRecord(key, new Uint8Array(27)))).toMatchInlineSnapshot(`
      {
        "code": "decryption_failed",
        "message": "Decryption failed",
      }
    `)
  })

  test('error: another app key is decryption_failed', async () => {
    const stored = await encryptRecord(await someKey(5), utf8ToBytes('value'), new Uint8Array(12))
    expect((await rejectionBody(decryptRecord(await someKey(6), stored))).code).toBe('decryption_failed')
  })

  test('error: preconditions name the field', async () => {
    await expect(importRecordKey(new Uint8Array(16))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: dataKey: expected 32 bytes, got 16]`,
    )
    const key = await someKey(7)
    await expect(encryptRecord(key, new Uint8Array(1), new Uint8Array(16))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: nonce: expected 12 bytes, got 16]`,
    )
  })
})
