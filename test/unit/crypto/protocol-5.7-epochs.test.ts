/**
 * PROTOCOL §5.7 "Key epochs": HKDF v2 (§5.2), the epoch data and sync keys, and the
 * re-encryption nonce (§6.10), checked against test/vectors/protocol-5.7-epochs.json. The
 * same file is recomputed independently in Python (epochsPython.test.ts); the epoch CA cases
 * are checked in test/unit/ca/protocol-8.3-ca-epochs.test.ts.
 */
import { describe, expect, test } from 'vitest'
import {
  decryptRecord,
  deriveAppKey,
  deriveDataKey,
  deriveReencryptNonceKey,
  deriveSyncKey,
  hkdfSha256,
  hmacSha256,
  importRecordKey,
  reencryptRecord,
} from '../../../core/crypto'
import { bytesToHex, concatBytes, utf8ToBytes } from '../../../core/encoding'
import epochs from '../../vectors/protocol-5.7-epochs.json'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface SecretCase extends VectorCase {
  master_secret: string
  expected: string
}
interface DeriveEpochCase extends SecretCase {
  cluster_epoch: number
  app_epoch: number
  app_id: number
  path: string
  context: string
  length: number
  salt: string
}
interface DataKeyEpochCase extends SecretCase {
  app_id: number
  cluster_epoch: number
}
interface SyncKeyEpochCase extends SecretCase {
  cluster_epoch: number
}
interface ReencryptCase extends SecretCase {
  app_id: number
  from_epoch: number
  to_epoch: number
  plaintext: string
  old_value: string
  nonce_key: string
  nonce: string
}

/** Every kind of the file, each consumed by a suite; a new kind needs a test before it lands here. */
const CONSUMED_KINDS = ['derive_epoch', 'data_key_epoch', 'sync_key_epoch', 'reencrypt_nonce_key', 'reencrypt_record', 'ca_epoch']

const vectors = loadVectors(epochs)

describe('PROTOCOL §5.7 "Key epochs" vectors', () => {
  test('behavior: the file names its source, and every kind is consumed and has a case', () => {
    expect(vectors.source).toMatch(/^PROTOCOL\.md §5\.7 "Key epochs"/)
    expect(new Set(vectors.cases.map((entry) => entry.kind))).toEqual(new Set(CONSUMED_KINDS))
    for (const kind of CONSUMED_KINDS) expect(casesOf(vectors, kind).length).toBeGreaterThan(0)
  })

  test.each(casesOf<DeriveEpochCase>(vectors, 'derive_epoch'))('vector: $name', async (vector) => {
    const key = await deriveAppKey({
      masterSecret: hex(vector.master_secret),
      appId: vector.app_id,
      path: vector.path,
      context: vector.context,
      length: vector.length,
      clusterEpoch: vector.cluster_epoch,
      appEpoch: vector.app_epoch,
    })
    expect(bytesToHex(key)).toBe(vector.expected)
    // The salt the file states, fed to plain HKDF, gives the same key (§5.2 spells it out).
    const info = utf8ToBytes(vector.context === '' ? vector.path : `${vector.path}:${vector.context}`)
    const plain = await hkdfSha256({ ikm: hex(vector.master_secret), salt: utf8ToBytes(vector.salt), info, length: vector.length })
    expect(bytesToHex(plain)).toBe(vector.expected)
  })

  test('vector: (c, a) = (0, 0) is HKDF v1, also for callers that pass no epoch', async () => {
    const v1 = casesOf<DeriveEpochCase>(vectors, 'derive_epoch').filter((entry) => entry.cluster_epoch === 0 && entry.app_epoch === 0)
    expect(v1).toHaveLength(2)
    for (const vector of v1) {
      expect(vector.salt).toBe(`nova-kms:app:${vector.app_id}`)
      const key = await deriveAppKey({ masterSecret: hex(vector.master_secret), appId: vector.app_id, path: vector.path, context: vector.context, length: vector.length })
      expect(bytesToHex(key)).toBe(vector.expected)
    }
  })

  test.each(casesOf<DataKeyEpochCase>(vectors, 'data_key_epoch'))('vector: $name', async (vector) => {
    expect(bytesToHex(await deriveDataKey(hex(vector.master_secret), vector.app_id, vector.cluster_epoch))).toBe(vector.expected)
  })

  test.each(casesOf<SyncKeyEpochCase>(vectors, 'sync_key_epoch'))('vector: $name', async (vector) => {
    expect(bytesToHex(await deriveSyncKey(hex(vector.master_secret), vector.cluster_epoch))).toBe(vector.expected)
  })

  test.each(casesOf<DataKeyEpochCase>(vectors, 'reencrypt_nonce_key'))('vector: $name', async (vector) => {
    const key = await deriveReencryptNonceKey(hex(vector.master_secret), vector.app_id, vector.cluster_epoch)
    expect(bytesToHex(key)).toBe(vector.expected)
  })

  test.each(casesOf<ReencryptCase>(vectors, 'reencrypt_record'))('vector: $name', async (vector) => {
    const secret = hex(vector.master_secret)
    const nonceKey = await deriveReencryptNonceKey(secret, vector.app_id, vector.to_epoch)
    expect(bytesToHex(nonceKey)).toBe(vector.nonce_key)
    const mac = await hmacSha256(nonceKey, concatBytes(utf8ToBytes(`${vector.from_epoch}:`), hex(vector.old_value)))
    expect(bytesToHex(mac.subarray(0, 12))).toBe(vector.nonce)
    const fromKey = await importRecordKey(await deriveDataKey(secret, vector.app_id, vector.from_epoch))
    const toKey = await importRecordKey(await deriveDataKey(secret, vector.app_id, vector.to_epoch))
    expect(new TextDecoder().decode(await decryptRecord(fromKey, hex(vector.old_value)))).toBe(vector.plaintext)
    const moved = await reencryptRecord({ fromKey, toKey, nonceKey, fromEpoch: vector.from_epoch, value: hex(vector.old_value) })
    expect(bytesToHex(moved)).toBe(vector.expected)
    expect(bytesToHex(moved.subarray(0, 12))).toBe(vector.nonce)
    expect(new TextDecoder().decode(await decryptRecord(toKey, moved))).toBe(vector.plaintext)
  })
})
