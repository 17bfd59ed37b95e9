/**
 * The app's keys behind interfaces (issue 17 item 5): a signer of viem's `LocalAccount` shape,
 * whose signatures are checked and normalised before any PoP leaves (PROTOCOL §3.1.1,
 * §3.1.2 step 5), and an envelope key (§5.6, §10.2) held in memory or as a non-extractable
 * WebCrypto key. The runtime-held ones are driven against `dist/nova-runtime.mjs` in
 * test/cluster/sdkDevnet.test.ts.
 */
import { privateKeyToAccount } from 'viem/accounts'
import { getAddress, recoverMessageAddress } from 'viem'
import { describe, expect, test } from 'vitest'
import {
  KmsClient,
  KmsSignerError,
  p384EnvelopeKey,
  signWithKmsSigner,
  walletKeySigner,
  webCryptoEnvelopeKey,
  type EnvelopeKey,
  type KmsSigner,
} from '../../../core/client'
import {
  buildAppAuthMessage,
  decryptEnvelope,
  encryptEnvelope,
  ENVELOPE_INFO_CURRENT,
  ENVELOPE_INFO_ENCLAVER_V1,
  generateP384PrivateKey,
  generateWalletPrivateKey,
  importP384PrivateKey,
  parseP384PublicKey,
  privateKeyToWallet,
  recoverMessageSigner,
  signMessageWithKey,
} from '../../../core/crypto'
import { bytesToHex, parseBase64, parseHex } from '../../../core/encoding'
import { webCryptoRandom as random } from '../../../functions/_runtime'

const clock = { nowMs: () => 1_750_000_000_000 }
const MESSAGE = 'NovaKMS:AppAuth:bm9uY2U=:0x00000000000000000000000000000000000000aa:1750000000'

function vOf(signature: string): number {
  return parseHex(signature)![64]!
}

/** A signer that answers `signature` whatever it is asked, under `address`. */
function fixedSigner(address: `0x${string}`, signature: string): KmsSigner {
  return { address, signMessage: async () => signature as `0x${string}` }
}

describe('signer', () => {
  const walletKey = generateWalletPrivateKey(random)
  const wallet = privateKeyToWallet(walletKey)
  const account = privateKeyToAccount(`0x${bytesToHex(walletKey)}`)

  test('behavior: a viem LocalAccount is a signer; its v 27/28 goes out as 0/1, the same r ‖ s, recovering to the wallet', async () => {
    const signer: KmsSigner = account
    const fromViem = await account.signMessage({ message: MESSAGE })
    expect([27, 28]).toContain(vOf(fromViem))
    const sent = await signWithKmsSigner({ signer, wallet, message: MESSAGE })
    expect(sent).toMatch(/^0x[0-9a-f]{128}0[01]$/)
    expect(sent.slice(0, 130)).toBe(fromViem.slice(0, 130).toLowerCase())
    expect(vOf(sent)).toBe(vOf(fromViem) - 27)
    // RFC 6979 on both sides: viem's signature is the node-style one, byte for byte.
    expect(sent).toBe(signMessageWithKey(walletKey, MESSAGE))
    expect(await recoverMessageAddress({ message: MESSAGE, signature: sent })).toBe(getAddress(wallet))
  })

  test('behavior: a v 0/1 signature (the runtime\'s) passes unchanged, upper-case hex lowered', async () => {
    const signature = signMessageWithKey(walletKey, MESSAGE)
    const upper = `0x${signature.slice(2).toUpperCase()}`
    expect(await signWithKmsSigner({ signer: fixedSigner(getAddress(wallet), upper), wallet, message: MESSAGE })).toBe(signature)
  })

  test('error: a signer whose signature recovers to another wallet is refused before sending: signer_mismatch', async () => {
    const other = generateWalletPrivateKey(random)
    const lying = fixedSigner(wallet, signMessageWithKey(other, MESSAGE))
    const error = await signWithKmsSigner({ signer: lying, wallet, message: MESSAGE }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsSignerError)
    expect(error).toMatchObject({ code: 'signer_mismatch', message: 'Signer signature does not recover to the signer address' })
    expect((error as KmsSignerError).details).toBe(`signature recovers to ${privateKeyToWallet(other)}, not ${wallet}`)
  })

  test.each([
    ['not hex', 'not a signature', 'signature is not 65 bytes of hex'],
    ['64 bytes', `0x${'11'.repeat(64)}`, 'signature is not 65 bytes of hex'],
    ['v = 2', `0x${'11'.repeat(64)}02`, 'signature v is 2'],
    ['v = 29', `0x${'11'.repeat(64)}1d`, 'signature v is 29'],
    ['r = 0', `0x${'00'.repeat(32)}${'11'.repeat(32)}1b`, 'signature does not recover'],
  ])('error: a malformed signature (%s) is signer_bad_signature', async (_name, signature, details) => {
    const error = await signWithKmsSigner({ signer: fixedSigner(wallet, signature), wallet, message: MESSAGE }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsSignerError)
    expect(error).toMatchObject({ code: 'signer_bad_signature', details })
  })

  test('behavior: walletKeySigner signs strings and UTF-8 raw messages alike, and refuses raw bytes that are not text', async () => {
    const signer = walletKeySigner(walletKey)
    expect(signer.address).toBe(wallet)
    const text = await signer.signMessage({ message: MESSAGE })
    expect(await signer.signMessage({ message: { raw: new TextEncoder().encode(MESSAGE) } })).toBe(text)
    expect(await signer.signMessage({ message: { raw: `0x${bytesToHex(new TextEncoder().encode(MESSAGE))}` } })).toBe(text)
    await expect(signer.signMessage({ message: { raw: new Uint8Array([0xff, 0xfe]) } })).rejects.toThrow('message.raw: expected UTF-8 bytes')
  })

  test('behavior: KmsClient signs PoP with a viem account; the headers recover to it over the node\'s message', async () => {
    const node = { url: 'http://node.test', wallet: privateKeyToWallet(generateWalletPrivateKey(random)), teePubkeyDer: (await generateP384PrivateKey(random)).publicKey.der }
    const fetch = async (): Promise<Response> => new Response(JSON.stringify({ nonce: 'bm9uY2Vub25jZW5vbmNlMQ==' }))
    const client = new KmsClient({ node, signer: account, teeKey: await generateP384PrivateKey(random), clock, random, fetch })
    expect(client.wallet).toBe(wallet)
    const headers = await client.popHeaders()
    const message = buildAppAuthMessage({ nonce: headers['x-app-nonce'], wallet: node.wallet, timestamp: Number(headers['x-app-timestamp']) })
    expect(vOf(headers['x-app-signature'])).toBeLessThanOrEqual(1)
    expect(recoverMessageSigner(message, headers['x-app-signature'])).toBe(wallet)
    const v2 = await client.authHeaders({ method: 'GET', path: '/kms/data', body: undefined })
    expect(v2.headers['x-app-wallet']).toBe(wallet)
  })

  test('error: exactly one of signer and walletKey, and of envelopeKey and teeKey', async () => {
    const node = { url: 'http://node.test', wallet, teePubkeyDer: (await generateP384PrivateKey(random)).publicKey.der }
    const teeKey = await generateP384PrivateKey(random)
    const both = { node, clock, random, signer: account, walletKey, teeKey } as unknown as ConstructorParameters<typeof KmsClient>[0]
    expect(() => new KmsClient(both)).toThrow('signer, walletKey: expected exactly one of them')
    const neither = { node, clock, random, walletKey } as unknown as ConstructorParameters<typeof KmsClient>[0]
    expect(() => new KmsClient(neither)).toThrow('envelopeKey, teeKey: expected exactly one of them')
    const badAddress = { node, clock, random, signer: { ...account, address: '0x1234' }, teeKey } as unknown as ConstructorParameters<typeof KmsClient>[0]
    expect(() => new KmsClient(badAddress)).toThrow('signer.address: expected a 20-byte 0x wallet')
  })
})

/** One implementation of the envelope-key interface, under the shared spec below. */
interface EnvelopeCase {
  name: string
  make(): Promise<EnvelopeKey>
}

const cases: EnvelopeCase[] = [
  { name: 'p384EnvelopeKey (in memory)', make: async () => p384EnvelopeKey({ privateKey: await generateP384PrivateKey(random), random }) },
  {
    name: 'webCryptoEnvelopeKey (non-extractable CryptoKey)',
    make: async () => webCryptoEnvelopeKey({ keyPair: (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])) as CryptoKeyPair, random }),
  },
]

describe.each(cases)('envelope key: $name', ({ make }) => {
  test('behavior: seals what the node opens with its own key, and opens what the node seals (§10.2)', async () => {
    const appKey = await make()
    const node = await generateP384PrivateKey(random)
    const sealed = await appKey.seal({ plaintext: '{"path":"é/x"}', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_CURRENT })
    expect(bytesToHex(sealed.senderPublicKeyDer)).toBe(bytesToHex(appKey.publicKeyDer))
    expect(sealed.nonce).toHaveLength(12)
    const sender = parseP384PublicKey(sealed.senderPublicKeyDer)!
    expect(await decryptEnvelope({ privateKey: node, peerPublicKey: sender, nonce: sealed.nonce, ciphertext: sealed.ciphertext, info: ENVELOPE_INFO_CURRENT })).toBe('{"path":"é/x"}')
    const nonce = random.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: node, peerPublicKey: sender, nonce, plaintext: '{"key":"answer"}', info: ENVELOPE_INFO_CURRENT })
    expect(await appKey.open({ senderPublicKeyDer: node.publicKey.der, nonce, ciphertext, info: ENVELOPE_INFO_CURRENT })).toBe('{"key":"answer"}')
  })

  test('behavior: each seal draws a fresh nonce; the label is part of the key (an older label does not open)', async () => {
    const appKey = await make()
    const node = await generateP384PrivateKey(random)
    const first = await appKey.seal({ plaintext: 'x', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_ENCLAVER_V1 })
    const second = await appKey.seal({ plaintext: 'x', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_ENCLAVER_V1 })
    expect(bytesToHex(first.nonce)).not.toBe(bytesToHex(second.nonce))
    const sender = parseP384PublicKey(first.senderPublicKeyDer)!
    expect(await decryptEnvelope({ privateKey: node, peerPublicKey: sender, nonce: first.nonce, ciphertext: first.ciphertext, info: ENVELOPE_INFO_ENCLAVER_V1 })).toBe('x')
    await expect(decryptEnvelope({ privateKey: node, peerPublicKey: sender, nonce: first.nonce, ciphertext: first.ciphertext, info: ENVELOPE_INFO_CURRENT })).rejects.toMatchObject({ code: 'decryption_failed' })
  })

  test('error: a tampered envelope, or a sender key that is not P-384, is decryption_failed', async () => {
    const appKey = await make()
    const node = await generateP384PrivateKey(random)
    const sender = parseP384PublicKey(appKey.publicKeyDer)!
    const nonce = random.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: node, peerPublicKey: sender, nonce, plaintext: 'answer', info: ENVELOPE_INFO_CURRENT })
    ciphertext[0]! ^= 1
    await expect(appKey.open({ senderPublicKeyDer: node.publicKey.der, nonce, ciphertext, info: ENVELOPE_INFO_CURRENT })).rejects.toMatchObject({ code: 'decryption_failed' })
    await expect(appKey.open({ senderPublicKeyDer: new Uint8Array(120), nonce, ciphertext, info: ENVELOPE_INFO_CURRENT })).rejects.toMatchObject({ code: 'decryption_failed' })
    await expect(appKey.seal({ plaintext: 'x', recipientPublicKeyDer: new Uint8Array(3), info: ENVELOPE_INFO_CURRENT })).rejects.toThrow(RangeError)
  })
})

describe('webCryptoEnvelopeKey', () => {
  test('behavior: the same envelopes as the in-memory key of the same scalar (an extractable pair, its d imported)', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, true, ['deriveBits'])) as CryptoKeyPair
    const fromCryptoKey = await webCryptoEnvelopeKey({ keyPair: pair, random })
    const d = (await crypto.subtle.exportKey('jwk', pair.privateKey)).d!
    const scalar = parseBase64(d.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(d.length / 4) * 4, '='))!
    const fromScalar = p384EnvelopeKey({ privateKey: await importP384PrivateKey(scalar), random })
    expect(bytesToHex(fromCryptoKey.publicKeyDer)).toBe(bytesToHex(fromScalar.publicKeyDer))
    const node = await generateP384PrivateKey(random)
    const sealed = await fromCryptoKey.seal({ plaintext: 'same key', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_CURRENT })
    // Sealed by one to the node, sealed back by the node: the other opens it.
    const back = await encryptEnvelope({ privateKey: node, peerPublicKey: parseP384PublicKey(sealed.senderPublicKeyDer)!, nonce: sealed.nonce, plaintext: 'back', info: ENVELOPE_INFO_CURRENT })
    expect(await fromScalar.open({ senderPublicKeyDer: node.publicKey.der, nonce: sealed.nonce, ciphertext: back, info: ENVELOPE_INFO_CURRENT })).toBe('back')
  })

  test('error: not a P-384 ECDH pair, no deriveBits, or a public key of another pair', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])) as CryptoKeyPair
    const other = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])) as CryptoKeyPair
    const p256 = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits'])) as CryptoKeyPair
    const noUsage = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveKey'])) as CryptoKeyPair
    await expect(webCryptoEnvelopeKey({ keyPair: p256, random })).rejects.toThrow('keyPair.privateKey: expected a P-384 ECDH private key with the deriveBits usage')
    await expect(webCryptoEnvelopeKey({ keyPair: noUsage, random })).rejects.toThrow('keyPair.privateKey: expected a P-384 ECDH private key with the deriveBits usage')
    await expect(webCryptoEnvelopeKey({ keyPair: { privateKey: pair.privateKey, publicKey: pair.privateKey }, random })).rejects.toThrow('keyPair.publicKey: expected a P-384 ECDH public key')
    await expect(webCryptoEnvelopeKey({ keyPair: { privateKey: pair.privateKey, publicKey: other.publicKey }, random })).rejects.toThrow("keyPair: the public key is not the private key's")
  })

  test('behavior: no shared secret is kept for a CryptoKey (each envelope runs its ECDH)', async () => {
    const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])) as CryptoKeyPair
    let derivations = 0
    const subtle = crypto.subtle
    const deriveBits = subtle.deriveBits.bind(subtle)
    subtle.deriveBits = ((...args: Parameters<SubtleCrypto['deriveBits']>) => {
      if (args[1] === pair.privateKey) derivations++
      return deriveBits(...args)
    }) as SubtleCrypto['deriveBits']
    try {
      const appKey = await webCryptoEnvelopeKey({ keyPair: pair, random })
      const node = await generateP384PrivateKey(random)
      derivations = 0
      for (let index = 0; index < 3; index++) await appKey.seal({ plaintext: 'x', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_CURRENT })
      expect(derivations).toBe(3)
    } finally {
      subtle.deriveBits = deriveBits
    }
  })
})
