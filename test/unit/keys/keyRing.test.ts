/**
 * `KeyRing` (PROTOCOL §5.2–§5.5, §7.1, §8.1–§8.3): the one holder of the master secret. Without
 * a secret every key operation is 503; with one it derives the §5.7 and §8.3 vectors,
 * encrypts records, signs /sync bodies, seals the secret for a peer, and installs a peer's
 * secret only against the chain's commitment.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  deriveAppKey,
  generateP384PrivateKey,
  importP384PrivateKey,
  masterSecretHash,
  unsealMasterSecret,
} from '../../../core/crypto'
import { bytesToHex, utf8ToBytes } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KeyRing, notReady } from '../../../core/keys'
import type { Random } from '../../../core/runtime'
import { seededRandom } from '../../helpers/fakeClock'

/** PROTOCOL §5.7: the master secret 00 01 … 1f. */
const MASTER = Uint8Array.from({ length: 32 }, (_, index) => index)
const OTHER = new Uint8Array(32).fill(0xab)
const NOT_READY = { code: 'service_unavailable', message: 'master secret not initialized' }

/** §8.3, verbatim. */
const CA_PEM = `-----BEGIN CERTIFICATE-----
MIIBvjCCAWWgAwIBAgIQFG/m9eOzDgBj4HREA//ZUTAKBggqhkjOPQQDAjA+MREw
DwYDVQQKDAhOb3ZhIEtNUzETMBEGA1UECwwKa21zLWFwcC00OTEUMBIGA1UEAwwL
Tm92YSBLTVMgQ0EwHhcNMjUwMTAxMDAwMDAwWhcNNDUwMTAxMDAwMDAwWjA+MREw
DwYDVQQKDAhOb3ZhIEtNUzETMBEGA1UECwwKa21zLWFwcC00OTEUMBIGA1UEAwwL
Tm92YSBLTVMgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQhPkQOUJU4+bom
cRkcMvuJDwuYLknhXDJLkuRpAIjoHudOg3lJd1jQwEMEL8nuKlxlaP5htDZQT1hH
evfZys3Po0UwQzASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQEAwIBBjAd
BgNVHQ4EFgQUmxeJbkRLhV5Pb6HAD1cMNkWMLlwwCgYIKoZIzj0EAwIDRwAwRAIg
LTvwYDbyBqSGYI7rZvIyAFhEdcLkFQxsIOZwEcfqshICIACPp3haWavOqUZQ1Evb
gkFvTQPoiv6tONtgeCYASj8U
-----END CERTIFICATE-----
`

/** A ring holding `secret` (generated), or none for `null`. */
async function ring(secret: Uint8Array | null = MASTER, kmsAppId = 49): Promise<KeyRing> {
  const keys = new KeyRing({ kmsAppId })
  if (secret !== null) await keys.install(secret, 'generated')
  return keys
}

/** The body of the KmsError that `run` throws or rejects with. */
async function failure(run: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

/** Returns the given byte strings in order. */
function scripted(...draws: Uint8Array[]): Random {
  return { bytes: (length) => {
    const next = draws.shift()
    if (next?.length !== length) throw new Error(`scripted: asked ${length} bytes`)
    return next
  } }
}

describe('KeyRing without a secret', () => {
  it('error: every key operation is 503 master secret not initialized', async () => {
    const keys = await ring(null)
    const requester = await generateP384PrivateKey(seededRandom(2))
    expect(await failure(() => keys.deriveAppKey({ appId: 49, path: 'wallet/root', context: '', length: 32 }))).toEqual(NOT_READY)
    expect(await failure(() => keys.encryptValue(49, utf8ToBytes('v'), new Uint8Array(12)))).toEqual(NOT_READY)
    expect(await failure(() => keys.decryptValue(49, new Uint8Array(40)))).toEqual(NOT_READY)
    expect(await failure(() => keys.sealSecretFor(requester.publicKey.der, seededRandom(3)))).toEqual(NOT_READY)
    expect(await failure(() => keys.certificateAuthority())).toEqual(NOT_READY)
    expect(notReady().status).toBe(503)
  })

  it('behavior: the checks that answer false or undefined do so instead of throwing', async () => {
    const keys = await ring(null)
    expect(await keys.canDecrypt(49, new Uint8Array(40))).toBe(false)
    expect(await keys.verifySyncBody({ a: 1 }, '00'.repeat(32))).toBe(false)
    expect(await keys.signSyncBody({ a: 1 })).toBeUndefined()
    expect(keys.isInstalled).toBe(false)
    expect(keys.hash).toBeUndefined()
    expect(keys.matches(masterSecretHash(MASTER))).toBe(false)
    expect(keys.matches(new Uint8Array(32))).toBe(false)
    expect(keys.state).toBe('uninitialized')
    expect(keys.syncedFrom).toBeNull()
  })
})

describe('KeyRing with a secret', () => {
  it('vector: hash is keccak256 of the secret (§5.7) and matches compares with it', async () => {
    const keys = await ring()
    expect(bytesToHex(keys.hash!)).toBe('8ae1aa597fa146ebd3aa2ceddf360668dea5e526567e92b0321816a4e895bd2d')
    expect(keys.hash).toEqual(masterSecretHash(MASTER))
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
    expect(keys.matches(masterSecretHash(OTHER))).toBe(false)
    expect(keys.isInstalled).toBe(true)
    expect(keys.state).toBe('generated')
    expect(keys.syncedFrom).toBeNull()
  })

  it('vector: deriveAppKey gives the §5.7 values, as core/crypto does for the same secret', async () => {
    const keys = await ring()
    const root = await keys.deriveAppKey({ appId: 49, path: 'wallet/root', context: '', length: 32 })
    expect(bytesToHex(root)).toBe('56bc3d5270b0d62355e87f685999950f112c293b3e5dae7e80528761e8741165')
    const session = await keys.deriveAppKey({ appId: 49, path: 'wallet/root', context: 'session-a', length: 32 })
    expect(bytesToHex(session)).toBe('51964edd04f9db9101734eff51df94176c34be12a6b01bdae5ea9c406c6b0c01')
    expect(bytesToHex(await keys.deriveAppKey({ appId: 49, path: 'x', context: '', length: 16 }))).toBe('0896d368e0cf08816c7db4ed1461a0db')
    for (const params of [{ appId: 7, path: 'a/b', context: 'c', length: 64 }, { appId: 0, path: 'p', context: '', length: 1 }]) {
      expect(await keys.deriveAppKey(params)).toEqual(await deriveAppKey({ masterSecret: MASTER, ...params }))
    }
  })

  it('vector: a record under data_key(49) with the §5.7 nonce, and its round trip', async () => {
    const keys = await ring()
    const nonce = Uint8Array.from({ length: 12 }, (_, index) => index)
    const stored = await keys.encryptValue(49, utf8ToBytes('hello'), nonce)
    expect(bytesToHex(stored)).toBe('000102030405060708090a0b10f35f40c9ece13722398fb6f833b4876f39cc1149')
    expect(await keys.decryptValue(49, stored)).toEqual(utf8ToBytes('hello'))
    expect(await keys.canDecrypt(49, stored)).toBe(true)
  })

  it('error: a record of another secret or another app does not decrypt', async () => {
    const keys = await ring()
    const foreign = await (await ring(OTHER)).encryptValue(49, utf8ToBytes('hello'), new Uint8Array(12))
    expect(await failure(() => keys.decryptValue(49, foreign))).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
    expect(await keys.canDecrypt(49, foreign)).toBe(false)
    const otherApp = await keys.encryptValue(50, utf8ToBytes('hello'), new Uint8Array(12))
    expect(await failure(() => keys.decryptValue(49, otherApp))).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
    expect(await keys.canDecrypt(49, otherApp)).toBe(false)
    expect(await failure(() => keys.decryptValue(49, new Uint8Array(27)))).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
  })

  it('property: encryptValue then decryptValue returns the plaintext, for any app', async () => {
    const keys = await ring()
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 1000 }), fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), async (appId, plaintext, nonce) => {
        const stored = await keys.encryptValue(appId, plaintext, nonce)
        expect(stored.length).toBe(plaintext.length + 28)
        expect(await keys.decryptValue(appId, stored)).toEqual(plaintext)
      }),
      { numRuns: 40 },
    )
  })

  it('vector: the sync HMAC of the §5.7 envelope, verified, and refused once tampered', async () => {
    const keys = await ring()
    const envelope = { encrypted_data: 'aa', nonce: 'bb', sender_tee_pubkey: 'cc' }
    const signature = await keys.signSyncBody(envelope)
    expect(signature).toBe('5487afde5d24f3a5de53dd1c30fa739e0007a4c58934d32ef561d04945fe6692')
    expect(await keys.verifySyncBody(envelope, signature!)).toBe(true)
    // Key order does not matter (canonical JSON), the content does.
    expect(await keys.verifySyncBody({ sender_tee_pubkey: 'cc', nonce: 'bb', encrypted_data: 'aa' }, signature!)).toBe(true)
    expect(await keys.verifySyncBody({ ...envelope, encrypted_data: 'ab' }, signature!)).toBe(false)
    expect(await keys.verifySyncBody(envelope, signature!.slice(0, -2) + '93')).toBe(false)
    expect(await keys.verifySyncBody(envelope, signature!.slice(0, -2))).toBe(false)
    expect(await (await ring(OTHER)).verifySyncBody(envelope, signature!)).toBe(false)
  })

  it('behavior: sealSecretFor seals the secret to the requester, who unseals it', async () => {
    const keys = await ring()
    const requester = await generateP384PrivateKey(seededRandom(21))
    const sealed = await keys.sealSecretFor(requester.publicKey.der, seededRandom(22))
    expect(sealed.encryptedData.length).toBe(48)
    expect(sealed.nonce.length).toBe(12)
    expect(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed })).toEqual(MASTER)
    const stranger = await generateP384PrivateKey(seededRandom(23))
    expect(await failure(() => unsealMasterSecret({ ephemeralPrivateKey: stranger, sealed }))).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
  })

  it('vector: sealing with the §5.7 keys A (ephemeral), B (requester) and nonce a0…ab', async () => {
    const keys = await ring()
    const requester = await importP384PrivateKey(new Uint8Array(48).fill(0x22))
    const nonce = Uint8Array.from({ length: 12 }, (_, index) => 0xa0 + index)
    const sealed = await keys.sealSecretFor(requester.publicKey.der, scripted(new Uint8Array(48).fill(0x11), nonce))
    expect(bytesToHex(sealed.encryptedData)).toBe('a243e196bf364afad9791f68e4a4e57100245630e18f24e927fb1f3ade5b6c271414b6657e8e6c4b2b1652a2380168a8')
  })

  it('error: sealing to a key that is not a P-384 point is 400', async () => {
    const keys = await ring()
    expect(await failure(() => keys.sealSecretFor(new Uint8Array(120), seededRandom(1)))).toEqual({ code: 'bad_request', message: 'Invalid peer ECDH public key' })
  })

  it('vector: the CA of master 00…1f and KMS_APP_ID 49 is the §8.3 certificate, built once', async () => {
    const keys = await ring()
    const first = keys.certificateAuthority()
    expect(first.caCertificate.fingerprintSha256).toBe('a5864b86b624199180526f4469baf26ed213117b13edc4badc562fee52fd6a7a')
    expect(first.caCertificate.der.length).toBe(450)
    expect(first.caCertificate.pem).toBe(CA_PEM)
    expect(bytesToHex(first.caCertificate.subjectKeyIdentifier)).toBe('9b17896e444b855e4f6fa1c00f570c36458c2e5c')
    expect(bytesToHex(first.caKey.privateKey)).toBe('9c5eefbd1f89dcffa8273ca80bba0d184a01036aad736d540b2d6ffb9fb6bf98')
    expect(keys.certificateAuthority()).toBe(first)
  })

  it('behavior: two rings with the same secret build byte-identical CAs; another app id or secret does not', async () => {
    const one = (await ring()).certificateAuthority().caCertificate
    const two = (await ring()).certificateAuthority().caCertificate
    expect(two.der).toEqual(one.der)
    expect(two.pem).toBe(one.pem)
    expect((await ring(MASTER, 50)).certificateAuthority().caCertificate.der).not.toEqual(one.der)
    expect((await ring(OTHER)).certificateAuthority().caCertificate.fingerprintSha256).not.toBe(one.fingerprintSha256)
  })

  it('behavior: reinstalling a secret rebuilds every key, the CA included', async () => {
    const keys = await ring()
    const before = keys.certificateAuthority()
    const stored = await keys.encryptValue(49, utf8ToBytes('v'), new Uint8Array(12))
    await keys.install(OTHER, 'generated')
    expect(keys.certificateAuthority()).not.toBe(before)
    expect(keys.certificateAuthority().caCertificate.fingerprintSha256).toBe((await ring(OTHER)).certificateAuthority().caCertificate.fingerprintSha256)
    expect(await keys.canDecrypt(49, stored)).toBe(false)
    expect(keys.matches(masterSecretHash(OTHER))).toBe(true)
  })

  it('error: a secret that is not 32 bytes is a RangeError and changes nothing', async () => {
    const keys = await ring()
    await expect(keys.install(new Uint8Array(31), 'generated')).rejects.toThrow(RangeError)
    await expect(keys.install(new Uint8Array(33), 'generated')).rejects.toThrow(RangeError)
    await expect(new KeyRing({ kmsAppId: 49 }).install(new Uint8Array(31), 'generated')).rejects.toThrow('master secret must be 32 bytes')
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
  })

  it('behavior: the returned hash is a copy, and the ring keeps its own copy of the secret', async () => {
    const secret = MASTER.slice()
    const keys = await ring(secret)
    const hash = keys.hash!
    hash.fill(0)
    expect(keys.hash).toEqual(masterSecretHash(MASTER))
    expect(keys.matches(new Uint8Array(32))).toBe(false)
    // Wiping the caller's buffer after install leaves the ring's keys intact.
    secret.fill(0)
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
    expect(bytesToHex(await keys.deriveAppKey({ appId: 49, path: 'wallet/root', context: '', length: 32 }))).toBe('56bc3d5270b0d62355e87f685999950f112c293b3e5dae7e80528761e8741165')
  })
})

describe('KeyRing.installIfCommitted (§7.1 step 7)', () => {
  it('error: a candidate whose hash is not the chain\'s installs nothing and calls no hook', async () => {
    let replaced = 0
    const empty = await ring(null)
    expect(await empty.installIfCommitted(OTHER, masterSecretHash(MASTER), 'http://peer', { beforeReplace: () => replaced++ })).toBe(false)
    expect(empty.isInstalled).toBe(false)
    expect(empty.state).toBe('uninitialized')

    const keys = await ring()
    expect(await keys.installIfCommitted(OTHER, masterSecretHash(MASTER), 'http://peer', { beforeReplace: () => replaced++ })).toBe(false)
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
    expect(keys.state).toBe('generated')
    expect(keys.syncedFrom).toBeNull()
    // A 31-byte candidate is refused the same way, even against its own hash.
    const short = new Uint8Array(31).fill(1)
    expect(await keys.installIfCommitted(short, keccak_256(short), 'http://peer', { beforeReplace: () => replaced++ })).toBe(false)
    expect(replaced).toBe(0)
  })

  it('behavior: the committed secret installs as synced; no hook on an empty ring', async () => {
    let replaced = 0
    const keys = await ring(null)
    expect(await keys.installIfCommitted(MASTER, masterSecretHash(MASTER), 'https://peer.example', { beforeReplace: () => replaced++ })).toBe(true)
    expect(replaced).toBe(0)
    expect(keys.state).toBe('synced')
    expect(keys.syncedFrom).toBe('https://peer.example')
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
    expect(bytesToHex(await keys.deriveAppKey({ appId: 49, path: 'x', context: '', length: 16 }))).toBe('0896d368e0cf08816c7db4ed1461a0db')
  })

  it('behavior: replacing an installed secret calls beforeReplace once, while the old secret is still in place', async () => {
    const keys = await ring(OTHER)
    const seen: boolean[] = []
    const accepted = await keys.installIfCommitted(MASTER, masterSecretHash(MASTER), 'https://peer.example', {
      beforeReplace: () => seen.push(keys.matches(masterSecretHash(OTHER))),
    })
    expect(accepted).toBe(true)
    expect(seen).toEqual([true])
    expect(keys.matches(masterSecretHash(MASTER))).toBe(true)
    expect(keys.state).toBe('synced')
  })

  it('behavior: a synced install followed by a generated one clears syncedFrom', async () => {
    const keys = await ring(null)
    await keys.install(MASTER, 'synced', 'https://peer.example')
    expect(keys.syncedFrom).toBe('https://peer.example')
    await keys.install(OTHER, 'generated')
    expect(keys.state).toBe('generated')
    expect(keys.syncedFrom).toBeNull()
  })
})

