/** The dev stand-in's own behaviour (PROTOCOL §10.3); its Tee contract is in sharedTee.test.ts. */
import { describe, expect, test } from 'vitest'
import { importP384PrivateKey, privateKeyToWallet } from '../../../core/crypto'
import { createLocalTee } from '../../../core/tee'
import { rejectionBody } from '../crypto/_errors'
import { scriptedRandom, seededRandom } from '../crypto/_random'

describe('local stand-in (PROTOCOL §10.3)', () => {
  test('behavior: without NODE_PRIVATE_KEY, both keys come from the injected Random', async () => {
    const walletKey = new Uint8Array(32).fill(0x42)
    const encryptionScalar = new Uint8Array(48).fill(0x11)
    const tee = await createLocalTee({ random: scriptedRandom(walletKey, encryptionScalar) })
    expect(await tee.getWallet()).toBe(privateKeyToWallet(walletKey))
    expect(await tee.getEncryptionPublicKey()).toEqual((await importP384PrivateKey(encryptionScalar)).publicKey.der)
  })

  test('behavior: NODE_PRIVATE_KEY fixes the wallet; the P-384 key is still per instance', async () => {
    const walletPrivateKey = new Uint8Array(32).fill(0x07)
    const first = await createLocalTee({ random: seededRandom('one'), walletPrivateKey })
    const second = await createLocalTee({ random: seededRandom('two'), walletPrivateKey })
    expect(await first.getWallet()).toBe(await second.getWallet())
    expect(await first.getEncryptionPublicKey()).not.toEqual(await second.getEncryptionPublicKey())
  })

  test('behavior: the wallet key is copied, so the caller cannot change it afterwards', async () => {
    const walletPrivateKey = new Uint8Array(32).fill(0x07)
    const tee = await createLocalTee({ random: seededRandom('copy'), walletPrivateKey })
    const before = await tee.signMessage('m')
    walletPrivateKey.fill(0x08)
    expect(await tee.signMessage('m')).toBe(before)
  })

  test('behavior: randomBytes and envelope nonces are drawn from the injected Random', async () => {
    const scalar = new Uint8Array(48).fill(0x22)
    const tee = await createLocalTee({
      random: scriptedRandom(new Uint8Array(48).fill(0x11), new Uint8Array(32).fill(9), new Uint8Array(12).fill(3)),
      walletPrivateKey: new Uint8Array(32).fill(1),
    })
    expect(await tee.randomBytes()).toEqual(new Uint8Array(32).fill(9))
    const sealed = await tee.encrypt('x', (await importP384PrivateKey(scalar)).publicKey.der)
    expect(sealed.nonce).toEqual(new Uint8Array(12).fill(3))
  })

  test('error: without an attestation issuer, getAttestation is service_unavailable', async () => {
    const tee = await createLocalTee({ random: seededRandom('no-issuer') })
    expect(await rejectionBody(tee.getAttestation({ nonce: new Uint8Array(16) }))).toMatchInlineSnapshot(`
      {
        "code": "service_unavailable",
        "message": "Enclave helper unavailable",
      }
    `)
  })

  test('error: a NODE_PRIVATE_KEY outside 1..n−1 is refused at creation', async () => {
    await expect(
      createLocalTee({ random: seededRandom('bad'), walletPrivateKey: new Uint8Array(32).fill(0xff) }),
    ).rejects.toThrowErrorMatchingInlineSnapshot(`[RangeError: privateKey: expected 1 ≤ d < n (secp256k1)]`)
  })
})
