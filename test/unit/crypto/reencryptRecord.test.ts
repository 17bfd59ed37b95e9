/**
 * Re-encryption between cluster epochs (PROTOCOL §6.10, §5.2 `reencrypt_nonce_key`): every
 * replica of a record moves to the same bytes, and the nonce never seals two plaintexts.
 * The §5.7 value is pinned by protocol-5.7-epochs.test.ts.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  decryptRecord,
  deriveDataKey,
  deriveReencryptNonceKey,
  encryptRecord,
  hmacSha256,
  importRecordKey,
  reencryptRecord,
  type RecordKey,
} from '../../../core/crypto'
import { concatBytes, utf8ToBytes } from '../../../core/encoding'
import { rejectionBody } from './_errors'

const secret0 = Uint8Array.from({ length: 32 }, (_, index) => index)
const secret1 = Uint8Array.from({ length: 32 }, (_, index) => 0x20 + index)

async function keys(): Promise<{ fromKey: RecordKey; toKey: RecordKey; nonceKey: Uint8Array }> {
  return {
    fromKey: await importRecordKey(await deriveDataKey(secret0, 49, 0)),
    toKey: await importRecordKey(await deriveDataKey(secret1, 49, 1)),
    nonceKey: await deriveReencryptNonceKey(secret1, 49, 1),
  }
}

const nonceOf = (fill: number) => new Uint8Array(12).fill(fill)

describe('reencryptRecord (PROTOCOL §6.10)', () => {
  test('behavior: the new value opens under the new key to the same plaintext, and is as long', async () => {
    const { fromKey, toKey, nonceKey } = await keys()
    const value = await encryptRecord(fromKey, utf8ToBytes('hello'), nonceOf(1))
    const moved = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value })
    expect(moved.length).toBe(value.length)
    expect(await decryptRecord(toKey, moved)).toEqual(utf8ToBytes('hello'))
    expect(await rejectionBody(decryptRecord(fromKey, moved))).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
  })

  test('behavior: the nonce is HMAC(nonce key, "<e>:" ‖ old value)[0..12)', async () => {
    const { fromKey, toKey, nonceKey } = await keys()
    const value = await encryptRecord(fromKey, utf8ToBytes('x'), nonceOf(2))
    const moved = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value })
    const mac = await hmacSha256(nonceKey, concatBytes(utf8ToBytes('0:'), value))
    expect(moved.subarray(0, 12)).toEqual(mac.subarray(0, 12))
    expect(moved).toEqual(await encryptRecord(toKey, utf8ToBytes('x'), mac.subarray(0, 12)))
  })

  test('property: two replicas of one old value, re-encrypted apart (fresh key imports), are byte-identical', async () => {
    const [replicaA, replicaB] = [await keys(), await keys()]
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), async (plaintext, nonce) => {
        const value = await encryptRecord(replicaA.fromKey, plaintext, nonce)
        const a = await reencryptRecord({ ...replicaA, fromEpoch: 0, value })
        const b = await reencryptRecord({ ...replicaB, fromEpoch: 0, value: value.slice() })
        expect(a).toEqual(b)
        expect(await decryptRecord(replicaB.toKey, a)).toEqual(plaintext)
      }),
      { numRuns: 50 },
    )
  })

  test('behavior: one plaintext stored twice (two random nonces) moves under two different nonces', async () => {
    const { fromKey, toKey, nonceKey } = await keys()
    const first = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value: await encryptRecord(fromKey, utf8ToBytes('same'), nonceOf(3)) })
    const second = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value: await encryptRecord(fromKey, utf8ToBytes('same'), nonceOf(4)) })
    expect(first.subarray(0, 12)).not.toEqual(second.subarray(0, 12))
  })

  test('behavior: the source epoch is part of the nonce input', async () => {
    const { toKey, nonceKey } = await keys()
    // The same old bytes, read as a value of epoch 0 and of epoch 1 (one key for both here).
    const sharedKey = await importRecordKey(new Uint8Array(32).fill(5))
    const value = await encryptRecord(sharedKey, utf8ToBytes('v'), nonceOf(6))
    const from0 = await reencryptRecord({ fromKey: sharedKey, toKey, nonceKey, fromEpoch: 0, value })
    const from1 = await reencryptRecord({ fromKey: sharedKey, toKey, nonceKey, fromEpoch: 1, value })
    expect(from0.subarray(0, 12)).not.toEqual(from1.subarray(0, 12))
  })

  test('error: a value that does not open under fromKey fails exactly as decryptRecord does', async () => {
    const { fromKey, toKey, nonceKey } = await keys()
    const value = await encryptRecord(fromKey, utf8ToBytes('hello'), nonceOf(7))
    const tampered = value.slice()
    tampered[20]! ^= 1
    for (const bad of [tampered, value.subarray(0, 27)]) {
      const expected = await rejectionBody(decryptRecord(fromKey, bad))
      expect(expected).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
      expect(await rejectionBody(reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value: bad }))).toEqual(expected)
    }
    // Already moved: the new value does not open under the old key.
    const moved = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value })
    expect(await rejectionBody(reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0, value: moved }))).toEqual({
      code: 'decryption_failed',
      message: 'Decryption failed',
    })
  })

  test('error: a malformed nonce key or source epoch is a caller bug that names the field', async () => {
    const { fromKey, toKey, nonceKey } = await keys()
    const value = await encryptRecord(fromKey, utf8ToBytes('hello'), nonceOf(8))
    await expect(reencryptRecord({ fromKey, toKey, nonceKey: nonceKey.subarray(1), fromEpoch: 0, value })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: nonceKey: expected 32 bytes, got 31]`,
    )
    await expect(reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: -1, value })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: fromEpoch: expected 0..4294967295, got -1]`,
    )
    await expect(reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: 0.5, value })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[TypeError: fromEpoch: expected an integer, got number]`,
    )
  })
})
