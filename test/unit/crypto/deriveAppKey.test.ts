import { describe, expect, test } from 'vitest'
import { deriveAppKey, deriveDataKey, deriveSyncKey, masterSecretHash } from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface MasterCase extends VectorCase {
  master_secret: string
  expected: string
}
interface DeriveCase extends MasterCase {
  app_id: number
  path: string
  context: string
  length: number
}
interface DataKeyCase extends MasterCase {
  app_id: number
}

const vectors = loadVectors(protocol)
const master = Uint8Array.from({ length: 32 }, (_, index) => index)

describe('HKDF v1 (PROTOCOL §5.2)', () => {
  test.each(casesOf<DeriveCase>(vectors, 'derive'))('vector: $name', async (vector) => {
    const key = await deriveAppKey({
      masterSecret: hex(vector.master_secret),
      appId: vector.app_id,
      path: vector.path,
      context: vector.context,
      length: vector.length,
    })
    expect(bytesToHex(key)).toBe(vector.expected)
  })

  test.each(casesOf<DataKeyCase>(vectors, 'data_key'))('vector: $name', async (vector) => {
    expect(bytesToHex(await deriveDataKey(hex(vector.master_secret), vector.app_id))).toBe(vector.expected)
  })

  test.each(casesOf<MasterCase>(vectors, 'sync_key'))('vector: $name', async (vector) => {
    expect(bytesToHex(await deriveSyncKey(hex(vector.master_secret)))).toBe(vector.expected)
  })

  test.each(casesOf<MasterCase>(vectors, 'master_secret_hash'))('vector: $name', (vector) => {
    expect(bytesToHex(masterSecretHash(hex(vector.master_secret)))).toBe(vector.expected)
  })

  test('behavior: an absent context is the empty context', async () => {
    const absent = await deriveAppKey({ masterSecret: master, appId: 7, path: 'p', length: 32 })
    const empty = await deriveAppKey({ masterSecret: master, appId: 7, path: 'p', context: '', length: 32 })
    expect(absent).toEqual(empty)
  })

  test('behavior: the path:context join is ambiguous, kept for compatibility', async () => {
    const joined = await deriveAppKey({ masterSecret: master, appId: 7, path: 'a:b', length: 32 })
    const split = await deriveAppKey({ masterSecret: master, appId: 7, path: 'a', context: 'b', length: 32 })
    expect(joined).toEqual(split)
  })

  test('behavior: the app id separates keys', async () => {
    const one = await deriveAppKey({ masterSecret: master, appId: 1, path: 'p', length: 32 })
    const two = await deriveAppKey({ masterSecret: master, appId: 2, path: 'p', length: 32 })
    expect(one).not.toEqual(two)
  })

  test('error: preconditions name the field, never the content', async () => {
    await expect(
      deriveAppKey({ masterSecret: master.subarray(1), appId: 1, path: 'p', length: 32 }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(`[RangeError: masterSecret: expected 32 bytes, got 31]`)
    await expect(
      deriveAppKey({ masterSecret: master, appId: -1, path: 'p', length: 32 }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(`[RangeError: appId: expected 0..9007199254740991, got -1]`)
    expect(() => masterSecretHash(new Uint8Array(33))).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: masterSecret: expected 32 bytes, got 33]`,
    )
  })
})
