/** The dev stand-in's own behaviour (PROTOCOL §10.3); its Tee contract is in sharedTee.test.ts. */
import { describe, expect, test } from 'vitest'
import {
  decryptEnvelope,
  encryptEnvelope,
  ENVELOPE_INFO_CAPSULE_API,
  ENVELOPE_INFO_CURRENT,
  ENVELOPE_INFO_ENCLAVER_V1,
  importP384PrivateKey,
  parseP384PublicKey,
  privateKeyToWallet,
  recoverMessageSigner,
} from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import { createLocalTee } from '../../../core/tee'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from '../crypto/_errors'
import { scriptedRandom, seededRandom } from '../crypto/_random'
import { casesOf, hex, loadVectors, type VectorCase } from '../crypto/_vectors'

interface EnvelopeCase extends VectorCase {
  scalar: string
  peer_scalar: string
  nonce: string
  info: string
  plaintext: string
  expected: string
}

const vectors = loadVectors(protocol)
const capsuleVector = casesOf<EnvelopeCase>(vectors, 'envelope_ciphertext').find((entry) => entry.info === 'capsule-ecdh-aes256gcm-v1')!
const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }

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

  test('behavior: NODE_ENCRYPTION_KEY fixes the P-384 key, so an instance can be registered before it starts', async () => {
    const encryptionPrivateKey = new Uint8Array(48).fill(0x33)
    const first = await createLocalTee({ random: seededRandom('one'), encryptionPrivateKey })
    const second = await createLocalTee({ random: seededRandom('two'), encryptionPrivateKey })
    expect(await first.getEncryptionPublicKey()).toEqual((await importP384PrivateKey(encryptionPrivateKey)).publicKey.der)
    expect(await first.getEncryptionPublicKey()).toEqual(await second.getEncryptionPublicKey())
    expect(await first.getWallet()).not.toBe(await second.getWallet())
    // And it works: one opens what the other sealed to it.
    const sealed = await first.encrypt('hello', await second.getEncryptionPublicKey())
    expect(await second.decrypt(sealed)).toBe('hello')
  })

  test('error: a NODE_ENCRYPTION_KEY outside 1..n−1 is refused at creation', async () => {
    await expect(createLocalTee({ random: seededRandom('bad'), encryptionPrivateKey: new Uint8Array(48).fill(0xff) })).rejects.toThrow(RangeError)
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

  test('behavior: signatures have v ∈ {0, 1}, as the current runtime signs (§10.3 "Wallet", RUNTIME.md §1)', async () => {
    const walletPrivateKey = new Uint8Array(32).fill(0x07)
    const tee = await createLocalTee({ random: seededRandom('v'), walletPrivateKey })
    const seen = new Set<string>()
    for (let round = 0; round < 16; round++) {
      const message = `NovaKMS:Response:${round}:0x70997970c51812dc3a010c7d01b50e0d17dc79c8`
      const signature = await tee.signMessage(message)
      expect(signature).toMatch(/^0x[0-9a-f]{128}(00|01)$/)
      expect(recoverMessageSigner(message, signature)).toBe(privateKeyToWallet(walletPrivateKey))
      seen.add(signature.slice(130))
    }
    expect(seen).toEqual(new Set(['00', '01']))
  })

  test('vector: encrypt uses the current label capsule-ecdh-aes256gcm-v1 (§5.7, §10.2)', async () => {
    // The stand-in's P-384 key is key A and its nonce the vector's, so its output is the vector.
    const tee = await createLocalTee({
      random: scriptedRandom(hex(capsuleVector.scalar), hex(capsuleVector.nonce)),
      walletPrivateKey: new Uint8Array(32).fill(1),
    })
    const receiver = await importP384PrivateKey(hex(capsuleVector.peer_scalar))
    const sealed = await tee.encrypt(capsuleVector.plaintext, receiver.publicKey.der)
    expect(bytesToHex(sealed.encryptedData)).toBe(capsuleVector.expected)
    const sender = await importP384PrivateKey(hex(capsuleVector.scalar))
    const open = (info: string) =>
      decryptEnvelope({ privateKey: receiver, peerPublicKey: sender.publicKey, nonce: sealed.nonce, ciphertext: sealed.encryptedData, info })
    expect(await open(ENVELOPE_INFO_CURRENT)).toBe(capsuleVector.plaintext)
    expect(await rejectionBody(open(ENVELOPE_INFO_ENCLAVER_V1))).toEqual(FAILED)
    expect(await rejectionBody(open(ENVELOPE_INFO_CAPSULE_API))).toEqual(FAILED)
  })

  test('behavior: decrypt opens the current label and refuses the older ones', async () => {
    const tee = await createLocalTee({ random: seededRandom('labels'), walletPrivateKey: new Uint8Array(32).fill(1) })
    const peer = await importP384PrivateKey(new Uint8Array(48).fill(0x22))
    const receiver = parseP384PublicKey(await tee.getEncryptionPublicKey())!
    const attempt = async (info: string, nonceByte: number) => {
      const nonce = new Uint8Array(12).fill(nonceByte)
      const encryptedData = await encryptEnvelope({ privateKey: peer, peerPublicKey: receiver, nonce, plaintext: '{"k":1}', info })
      return tee.decrypt({ nonce, senderPublicKeyDer: peer.publicKey.der, encryptedData })
    }
    expect(await rejectionBody(attempt(ENVELOPE_INFO_ENCLAVER_V1, 1))).toEqual(FAILED)
    expect(await rejectionBody(attempt(ENVELOPE_INFO_CAPSULE_API, 2))).toEqual(FAILED)
    expect(await attempt(ENVELOPE_INFO_CURRENT, 3)).toBe('{"k":1}')
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
