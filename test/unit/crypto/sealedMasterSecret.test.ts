import { describe, expect, test } from 'vitest'
import {
  computeP384SharedSecret,
  deriveSealingKey,
  generateP384PrivateKey,
  importP384PrivateKey,
  sealMasterSecret,
  unsealMasterSecret,
  type P384PrivateKey,
  type SealedMasterSecret,
} from '../../../core/crypto'
import { bytesToHex } from '../../../core/encoding'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from './_errors'
import { scriptedRandom, seededRandom } from './_random'
import { sealRawAesGcm } from './_rawAesGcm'
import { casesOf, hex, loadVectors, type VectorCase } from './_vectors'

interface SealingKeyCase extends VectorCase {
  shared_secret: string
  expected: string
}
interface SealedCase extends VectorCase {
  master_secret: string
  ephemeral_scalar: string
  requester_scalar: string
  nonce: string
  expected: string
}

const vectors = loadVectors(protocol)
const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }
const master = Uint8Array.from({ length: 32 }, (_, index) => index)

async function sealedPair() {
  const random = seededRandom('sealing')
  const requester = await generateP384PrivateKey(random)
  const sealed = await sealMasterSecret({ requesterPublicKeyDer: requester.publicKey.der, masterSecret: master, random })
  return { requester, sealed }
}

/** Seals arbitrary bytes the §5.5 way, as a misbehaving responder could. */
async function sealBytes(requester: P384PrivateKey, plaintext: Uint8Array): Promise<SealedMasterSecret> {
  const ephemeral = await importP384PrivateKey(new Uint8Array(48).fill(0x33))
  const nonce = new Uint8Array(12).fill(0x44)
  const key = await deriveSealingKey(await computeP384SharedSecret(ephemeral, requester.publicKey))
  return { ephemeralPublicKeyDer: ephemeral.publicKey.der, encryptedData: await sealRawAesGcm(key, nonce, plaintext), nonce }
}

describe('sealed master secret (PROTOCOL §5.5)', () => {
  test.each(casesOf<SealingKeyCase>(vectors, 'sealing_key'))('vector: $name', async ({ shared_secret, expected }) => {
    expect(bytesToHex(await deriveSealingKey(hex(shared_secret)))).toBe(expected)
  })

  test.each(casesOf<SealedCase>(vectors, 'sealed_master_secret'))('vector: $name', async (vector) => {
    const requester = await importP384PrivateKey(hex(vector.requester_scalar))
    const sealed = await sealMasterSecret({
      requesterPublicKeyDer: requester.publicKey.der,
      masterSecret: hex(vector.master_secret),
      random: scriptedRandom(hex(vector.ephemeral_scalar), hex(vector.nonce)),
    })
    expect(bytesToHex(sealed.encryptedData)).toBe(vector.expected)
    expect(bytesToHex(sealed.nonce)).toBe(vector.nonce)
    expect(sealed.ephemeralPublicKeyDer).toEqual((await importP384PrivateKey(hex(vector.ephemeral_scalar))).publicKey.der)
    expect(bytesToHex(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed }))).toBe(vector.master_secret)
  })

  test('behavior: seal then unseal returns the secret; the answer has the §5.5 sizes', async () => {
    const { requester, sealed } = await sealedPair()
    expect(sealed.encryptedData.length).toBe(48)
    expect(sealed.nonce.length).toBe(12)
    expect(sealed.ephemeralPublicKeyDer.length).toBe(120)
    expect(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed })).toEqual(master)
  })

  test('behavior: the requester key may be SEC1', async () => {
    const requester = await generateP384PrivateKey(seededRandom('sec1'))
    const sealed = await sealMasterSecret({ requesterPublicKeyDer: requester.publicKey.sec1, masterSecret: master, random: seededRandom('x') })
    expect(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed })).toEqual(master)
  })

  test('error: a requester key that is not a P-384 point is bad_request', async () => {
    const work = sealMasterSecret({ requesterPublicKeyDer: new Uint8Array(120), masterSecret: master, random: seededRandom('y') })
    expect(await rejectionBody(work)).toMatchInlineSnapshot(`
      {
        "code": "bad_request",
        "message": "Invalid peer ECDH public key",
      }
    `)
  })

  test('error: a wrong nonce length, a bad ephemeral key, tampering or another requester is decryption_failed', async () => {
    const { requester, sealed } = await sealedPair()
    const stranger = await generateP384PrivateKey(seededRandom('stranger'))
    const tampered = sealed.encryptedData.slice()
    tampered[0]! ^= 1
    const attempts: Array<[typeof requester, SealedMasterSecret]> = [
      [requester, { ...sealed, nonce: sealed.nonce.subarray(0, 11) }],
      [requester, { ...sealed, nonce: new Uint8Array(32) }],
      [requester, { ...sealed, ephemeralPublicKeyDer: new Uint8Array(120) }],
      [requester, { ...sealed, encryptedData: tampered }],
      [stranger, sealed],
    ]
    for (const [ephemeralPrivateKey, attempt] of attempts) {
      expect(await rejectionBody(unsealMasterSecret({ ephemeralPrivateKey, sealed: attempt }))).toEqual(FAILED)
    }
  })

  test('error: a sealed secret that is not 32 bytes is decryption_failed', async () => {
    const requester = await generateP384PrivateKey(seededRandom('short'))
    const control = await sealBytes(requester, master)
    expect(await unsealMasterSecret({ ephemeralPrivateKey: requester, sealed: control })).toEqual(master)
    for (const wrong of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0)]) {
      const sealed = await sealBytes(requester, wrong)
      expect(await rejectionBody(unsealMasterSecret({ ephemeralPrivateKey: requester, sealed }))).toEqual(FAILED)
    }
  })
})
