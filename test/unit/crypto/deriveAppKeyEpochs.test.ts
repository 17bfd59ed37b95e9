/**
 * HKDF v2 (PROTOCOL §5.2 "HKDF v2 (epochs)"): the epoch parameters of `deriveAppKey` and the
 * epoch forms of `data_key`, `sync_key` and `reencrypt_nonce_key`. The values are pinned by
 * protocol-5.7-epochs.test.ts; this suite checks the rules around them.
 */
import fc from 'fast-check'
import { describe, expect, test } from 'vitest'
import {
  deriveAppKey,
  deriveDataKey,
  deriveReencryptNonceKey,
  deriveSyncKey,
  hkdfSha256,
  MAX_KEY_EPOCH,
} from '../../../core/crypto'
import { utf8ToBytes } from '../../../core/encoding'

const master = Uint8Array.from({ length: 32 }, (_, index) => index)
const other = Uint8Array.from({ length: 32 }, (_, index) => 0x20 + index)
const base = { masterSecret: master, appId: 49, path: 'signing', length: 32 } as const

describe('HKDF v2 (PROTOCOL §5.2)', () => {
  test('behavior: epochs (0, 0), given or defaulted, are HKDF v1', async () => {
    const v1 = await hkdfSha256({ ikm: master, salt: utf8ToBytes('nova-kms:app:49'), info: utf8ToBytes('signing'), length: 32 })
    expect(await deriveAppKey(base)).toEqual(v1)
    expect(await deriveAppKey({ ...base, clusterEpoch: 0, appEpoch: 0 })).toEqual(v1)
    expect(await deriveDataKey(master, 49)).toEqual(await deriveDataKey(master, 49, 0))
    expect(await deriveSyncKey(master)).toEqual(await deriveSyncKey(master, 0))
  })

  test('behavior: any other (c, a) uses the v2 salt naming the app and both epochs', async () => {
    const salt = 'nova-kms:v2:app:49:cluster-epoch:4294967295:app-epoch:7'
    const expected = await hkdfSha256({ ikm: master, salt: utf8ToBytes(salt), info: utf8ToBytes('signing:ctx'), length: 20 })
    expect(await deriveAppKey({ ...base, context: 'ctx', length: 20, clusterEpoch: MAX_KEY_EPOCH, appEpoch: 7 })).toEqual(expected)
  })

  test('property: distinct (c, a) pairs give distinct keys under one secret', async () => {
    const epoch = fc.integer({ min: 0, max: MAX_KEY_EPOCH })
    await fc.assert(
      fc.asyncProperty(fc.tuple(epoch, epoch), fc.tuple(epoch, epoch), async ([c1, a1], [c2, a2]) => {
        fc.pre(c1 !== c2 || a1 !== a2)
        const one = await deriveAppKey({ ...base, clusterEpoch: c1, appEpoch: a1 })
        const two = await deriveAppKey({ ...base, clusterEpoch: c2, appEpoch: a2 })
        expect(one).not.toEqual(two)
      }),
      { numRuns: 100 },
    )
  })

  test('behavior: the epoch secret is the IKM: the same epochs under another secret differ', async () => {
    expect(await deriveAppKey({ ...base, clusterEpoch: 1 })).not.toEqual(await deriveAppKey({ ...base, masterSecret: other, clusterEpoch: 1 }))
  })

  test('behavior: the data key, sync key and nonce key follow the cluster epoch and are derive_(c,0)', async () => {
    for (const clusterEpoch of [0, 1, 2]) {
      expect(await deriveDataKey(master, 49, clusterEpoch)).toEqual(await deriveAppKey({ masterSecret: master, appId: 49, path: 'data_key', length: 32, clusterEpoch }))
      expect(await deriveSyncKey(master, clusterEpoch)).toEqual(await deriveAppKey({ masterSecret: master, appId: 0, path: 'sync_hmac_key', length: 32, clusterEpoch }))
      expect(await deriveReencryptNonceKey(master, 49, clusterEpoch)).toEqual(
        await deriveAppKey({ masterSecret: master, appId: 49, path: 'data_reencrypt_nonce', length: 32, clusterEpoch }),
      )
    }
    expect(await deriveDataKey(master, 49, 1)).not.toEqual(await deriveDataKey(master, 49, 0))
    expect(await deriveSyncKey(master, 1)).not.toEqual(await deriveSyncKey(master, 0))
  })

  test('behavior: an app key epoch changes the app\'s derived keys but never its data key', async () => {
    const a0 = await deriveAppKey({ ...base, clusterEpoch: 1 })
    const a1 = await deriveAppKey({ ...base, clusterEpoch: 1, appEpoch: 1 })
    expect(a1).not.toEqual(a0)
    // The data key has no app epoch: it is derive_(c,0) whatever the app's epoch.
    expect(await deriveDataKey(master, 49, 1)).toEqual(await deriveAppKey({ masterSecret: master, appId: 49, path: 'data_key', length: 32, clusterEpoch: 1, appEpoch: 0 }))
    expect(await deriveDataKey(master, 49, 1)).not.toEqual(await deriveAppKey({ masterSecret: master, appId: 49, path: 'data_key', length: 32, clusterEpoch: 1, appEpoch: 1 }))
  })

  test('behavior: the re-encryption nonce key is separate from the data key of the same epoch', async () => {
    expect(await deriveReencryptNonceKey(master, 49, 1)).not.toEqual(await deriveDataKey(master, 49, 1))
    expect(await deriveReencryptNonceKey(master, 49, 1)).not.toEqual(await deriveReencryptNonceKey(master, 50, 1))
  })

  test('behavior: the largest epoch, 2^32 − 1, is accepted', async () => {
    expect(MAX_KEY_EPOCH).toBe(2 ** 32 - 1)
    await expect(deriveAppKey({ ...base, clusterEpoch: MAX_KEY_EPOCH, appEpoch: MAX_KEY_EPOCH })).resolves.toHaveLength(32)
  })

  test('error: epochs outside 0..2^32−1 or not integers are caller bugs that name the field', async () => {
    await expect(deriveAppKey({ ...base, clusterEpoch: -1 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: clusterEpoch: expected 0..4294967295, got -1]`,
    )
    await expect(deriveAppKey({ ...base, appEpoch: 2 ** 32 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: appEpoch: expected 0..4294967295, got 4294967296]`,
    )
    await expect(deriveAppKey({ ...base, clusterEpoch: 1.5 })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[TypeError: clusterEpoch: expected an integer, got number]`,
    )
    await expect(deriveAppKey({ ...base, appEpoch: '1' as unknown as number })).rejects.toThrowErrorMatchingInlineSnapshot(
      `[TypeError: appEpoch: expected an integer, got string]`,
    )
    await expect(deriveDataKey(master, 49, Number.NaN)).rejects.toThrow(TypeError)
    await expect(deriveSyncKey(master, -1)).rejects.toThrow(RangeError)
    await expect(deriveReencryptNonceKey(master, 49, 2 ** 32)).rejects.toThrow(RangeError)
    await expect(deriveReencryptNonceKey(master.subarray(1), 49, 1)).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: masterSecret: expected 32 bytes, got 31]`,
    )
  })
})
