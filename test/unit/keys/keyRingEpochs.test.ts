/**
 * `KeyRing` across key epochs (PROTOCOL §7.7): a candidate serves nothing until the chain
 * commits it, the serving epoch is the one new values and default derives use, a stored
 * value opens under the epoch it names, re-encryption is deterministic, the sync key works
 * across a rotation, and wiping zeroes an epoch for good.
 */
import { describe, expect, it } from 'vitest'
import { deriveAppKey, generateP384PrivateKey, masterSecretHash, unsealMasterSecret } from '../../../core/crypto'
import { KeyRing } from '../../../core/keys'
import { seededRandom } from '../../helpers/fakeClock'

const SECRET_0 = Uint8Array.from({ length: 32 }, (_, index) => index)
const SECRET_1 = Uint8Array.from({ length: 32 }, (_, index) => 0x20 + index)

async function ringWithTwoEpochs(): Promise<KeyRing> {
  const keys = new KeyRing({ kmsAppId: 49 })
  await keys.install(SECRET_0, 'generated')
  expect(await keys.installIfCommitted(SECRET_1, masterSecretHash(SECRET_1), 'http://peer', { epoch: 1 })).toBe(true)
  return keys
}

describe('KeyRing epochs (PROTOCOL §7.7)', () => {
  it('behavior: a candidate is only a hash until promoted against the chain, and then serves as generated', async () => {
    const keys = new KeyRing({ kmsAppId: 49 })
    await keys.install(SECRET_0, 'generated')
    const hash = keys.setCandidate(1, SECRET_1)
    expect(hash).toEqual(masterSecretHash(SECRET_1))
    expect(keys.holds(1)).toBe(false)
    expect(keys.servingEpoch).toBe(0)
    expect(await keys.promoteCandidate(1, masterSecretHash(SECRET_0))).toBe(false)
    expect(await keys.promoteCandidate(2, hash)).toBe(false)
    expect(keys.candidateHash(1)).toEqual(hash)
    expect(await keys.promoteCandidate(1, hash)).toBe(true)
    expect(keys.candidateHash(1)).toBeUndefined()
    expect(keys.heldEpochs).toEqual([0, 1])
    expect(keys.servingEpoch).toBe(1)
    expect(keys.state).toBe('generated')
  })

  it('vector: derive at epochs (0,0) is HKDF v1 and at (1,3) is v2 under the epoch-1 secret; the default is the serving epoch', async () => {
    const keys = await ringWithTwoEpochs()
    const params = { appId: 49, path: 'signing', context: '', length: 32 }
    expect(await keys.deriveAppKey({ ...params, clusterEpoch: 0, appEpoch: 0 })).toEqual(await deriveAppKey({ masterSecret: SECRET_0, ...params }))
    expect(await keys.deriveAppKey({ ...params, clusterEpoch: 1, appEpoch: 3 })).toEqual(
      await deriveAppKey({ masterSecret: SECRET_1, ...params, clusterEpoch: 1, appEpoch: 3 }),
    )
    keys.serveOn(0)
    expect(await keys.deriveAppKey(params)).toEqual(await deriveAppKey({ masterSecret: SECRET_0, ...params }))
    keys.serveOn(1)
    expect(await keys.deriveAppKey(params)).toEqual(await deriveAppKey({ masterSecret: SECRET_1, ...params, clusterEpoch: 1 }))
    await expect(keys.deriveAppKey({ ...params, clusterEpoch: 2 })).rejects.toMatchObject({ code: 'service_unavailable', message: 'master secret of epoch 2 not held' })
  })

  it('behavior: values seal under the serving epoch, open under the epoch they name, and re-encrypt deterministically', async () => {
    const keys = await ringWithTwoEpochs()
    keys.serveOn(0)
    const plaintext = new TextEncoder().encode('a value')
    const old = await keys.sealValue(7, plaintext, new Uint8Array(12).fill(3))
    expect(old.keyEpoch).toBe(0)
    expect(await keys.canDecrypt(7, old.ciphertext, 1)).toBe(false)
    keys.serveOn(1)
    const moved = await keys.reencryptValue(7, old.ciphertext, 0, 1)
    expect(moved).toHaveLength(old.ciphertext.length)
    expect(await keys.decryptValue(7, moved, 1)).toEqual(plaintext)
    expect(await keys.canDecrypt(7, moved, 0)).toBe(false)
    // Another node holding the same epochs makes the same bytes from the same old value.
    const replica = await ringWithTwoEpochs()
    expect(await replica.reencryptValue(7, old.ciphertext, 0, 1)).toEqual(moved)
    await expect(keys.reencryptValue(7, moved, 1, 1)).rejects.toMatchObject({ code: 'service_unavailable' })
    const fresh = await keys.sealValue(7, plaintext, new Uint8Array(12).fill(4))
    expect(fresh.keyEpoch).toBe(1)
  })

  it('behavior: /sync signs with the oldest held epoch and verifies under any held one, so both sides of a rotation agree', async () => {
    const both = await ringWithTwoEpochs()
    const onlyZero = new KeyRing({ kmsAppId: 49 })
    await onlyZero.install(SECRET_0, 'generated')
    const onlyOne = new KeyRing({ kmsAppId: 49 })
    await onlyOne.installIfCommitted(SECRET_1, masterSecretHash(SECRET_1), 'http://peer', { epoch: 1 })
    const body = { type: 'delta', sender_wallet: '0xabc', data: {} }
    const fromBoth = (await both.signSyncBody(body, 'n1'))!
    expect(await onlyZero.verifySyncBody(body, fromBoth, 'n1')).toBe(true)
    expect(await onlyOne.verifySyncBody(body, fromBoth, 'n1')).toBe(false)
    expect(await both.verifySyncBody(body, (await onlyOne.signSyncBody(body, 'n1'))!, 'n1')).toBe(true)
    expect(await both.verifySyncBody(body, (await onlyZero.signSyncBody(body, 'n1'))!, 'n1')).toBe(true)
  })

  it('behavior: the secret of a named epoch is sealed to a requester; an epoch not held is 503', async () => {
    const keys = await ringWithTwoEpochs()
    const requester = await generateP384PrivateKey(seededRandom(3))
    const sealed = await keys.sealSecretFor(requester.publicKey.der, seededRandom(4), 1)
    expect(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed })).toEqual(SECRET_1)
    await expect(keys.sealSecretFor(requester.publicKey.der, seededRandom(4), 5)).rejects.toMatchObject({ status: 503 })
  })

  it('behavior: each epoch has its own CA; the epoch-0 CA is unchanged', async () => {
    const keys = await ringWithTwoEpochs()
    const zero = keys.certificateAuthority(0)
    const one = keys.certificateAuthority(1)
    expect(zero.epoch).toBe(0)
    expect(one.epoch).toBe(1)
    expect(one.caCertificate.fingerprintSha256).not.toBe(zero.caCertificate.fingerprintSha256)
    const single = new KeyRing({ kmsAppId: 49 })
    await single.install(SECRET_0, 'generated')
    expect(single.certificateAuthority().caCertificate.pem).toBe(zero.caCertificate.pem)
  })

  it('behavior: wiping an epoch zeroes its secret; the ring then serves the other and sync falls back to it', async () => {
    const keys = await ringWithTwoEpochs()
    keys.serveOn(0)
    const body = { type: 'delta' }
    const beforeWipe = await keys.signSyncBody(body)
    expect(keys.wipe(0)).toBe(true)
    expect(keys.wipe(0)).toBe(false)
    expect(keys.heldEpochs).toEqual([1])
    expect(keys.servingEpoch).toBe(1)
    expect(keys.hashOf(0)).toBeUndefined()
    expect(await keys.verifySyncBody(body, beforeWipe!)).toBe(false)
    expect(keys.matches(masterSecretHash(SECRET_0))).toBe(false)
    expect(keys.matches(masterSecretHash(SECRET_1))).toBe(true)
  })
})
