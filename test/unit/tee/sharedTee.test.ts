/**
 * The `Tee` contract (PROTOCOL §10), run against both implementations: the local stand-in
 * (§10.3) and the Odyn client (§10.1) talking to an Odyn double built on a stand-in. The
 * same inputs must give the same outputs and the same error codes.
 */
import fc from 'fast-check'
import { parseTransaction, recoverTransactionAddress, type TransactionSerializedEIP1559 } from 'viem'
import { describe, expect, test } from 'vitest'
import {
  decryptEnvelope,
  deriveEnvelopeKey,
  encryptEnvelope,
  generateP384PrivateKey,
  parseP384PublicKey,
  recoverMessageSigner,
  type P384PrivateKey,
} from '../../../core/crypto'
import { bytesToHex, parseUtf8 } from '../../../core/encoding'
import { createLocalTee, createOdynTee, type IssueAttestation, type Tee } from '../../../core/tee'
import protocol from '../../vectors/protocol-5.7.json'
import { rejectionBody } from '../crypto/_errors'
import { seededRandom } from '../crypto/_random'
import { sealRawAesGcm } from '../crypto/_rawAesGcm'
import { casesOf, hex, loadVectors, type VectorCase } from '../crypto/_vectors'
import { recordAttestationRequest } from './_attestationRecorder'
import { createOdynDouble } from './_odynDouble'

interface SignatureCase extends VectorCase {
  private_key: string
  message: string
  signer: string
  expected: string
}

const vectors = loadVectors(protocol)
const counterSignature = casesOf<SignatureCase>(vectors, 'eip191_signature').find((entry) => entry.name === 'node counter-signature')!
const NODE_KEY = hex(counterSignature.private_key)
const NODE_WALLET = counterSignature.signer
const FAILED = { code: 'decryption_failed', message: 'Decryption failed' }

interface MakeOptions {
  issueAttestation?: IssueAttestation
}

const implementations: Array<{ name: string; make: (label: string, options?: MakeOptions) => Promise<Tee> }> = [
  {
    name: 'local stand-in',
    make: (label, { issueAttestation = recordAttestationRequest } = {}) =>
      createLocalTee({ random: seededRandom(label), walletPrivateKey: NODE_KEY, issueAttestation }),
  },
  {
    name: 'Odyn client over the Odyn double',
    make: async (label, { issueAttestation = recordAttestationRequest } = {}) => {
      const inner = await createLocalTee({ random: seededRandom(label), walletPrivateKey: NODE_KEY, issueAttestation })
      return createOdynTee({ baseUrl: 'http://127.0.0.1:18000', fetch: createOdynDouble(inner) })
    },
  },
]

async function teeKey(tee: Tee) {
  return parseP384PublicKey(await tee.getEncryptionPublicKey())!
}

async function peerEnvelope(peer: P384PrivateKey, tee: Tee, plaintext: string, nonce: Uint8Array) {
  const encryptedData = await encryptEnvelope({ privateKey: peer, peerPublicKey: await teeKey(tee), nonce, plaintext })
  return { nonce, senderPublicKeyDer: peer.publicKey.der, encryptedData }
}

describe.each(implementations)('Tee contract: $name', ({ make }) => {
  test('behavior: the wallet is the canonical wallet of the key', async () => {
    expect(await (await make('wallet')).getWallet()).toBe(NODE_WALLET)
  })

  test('vector: signMessage reproduces the §5.7 counter-signature', async () => {
    const tee = await make('vector')
    expect(await tee.signMessage(counterSignature.message)).toBe(counterSignature.expected)
  })

  test('property: signMessage recovers to the wallet for any text, with v ∈ {0, 1} (§3.1.2)', async () => {
    const tee = await make('sign')
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 60 }), async (message) => {
        const signature = await tee.signMessage(message)
        expect(signature).toMatch(/^0x[0-9a-f]{128}(00|01)$/)
        expect(recoverMessageSigner(message, signature)).toBe(NODE_WALLET)
      }),
      { numRuns: 15 },
    )
  })

  test('behavior: signTransaction returns a signed EIP-1559 transaction from the wallet (§9.3)', async () => {
    const tee = await make('tx')
    const transaction = {
      chainId: 31337,
      nonce: 7,
      maxPriorityFeePerGas: 1_000_000_000n,
      maxFeePerGas: 3_000_000_000n,
      gas: 0x493e0n,
      to: '0x6a28d24c9aecdcec9b021ee6960fdde592796af7',
      value: 0n,
      data: `0x4df7e390${'ab'.repeat(32)}`,
    } as const
    const raw = (await tee.signTransaction(transaction)) as TransactionSerializedEIP1559
    expect(raw).toMatch(/^0x02[0-9a-f]+$/)
    const { value, ...fields } = transaction
    const parsed = parseTransaction(raw)
    expect(parsed).toMatchObject({ type: 'eip1559', ...fields })
    expect(parsed.value ?? 0n).toBe(value) // RLP encodes 0 as empty; viem then omits it
    expect((await recoverTransactionAddress({ serializedTransaction: raw })).toLowerCase()).toBe(NODE_WALLET)
  })

  test('behavior: randomBytes gives 32 fresh bytes', async () => {
    const tee = await make('random')
    const first = await tee.randomBytes()
    expect(first.length).toBe(32)
    expect(await tee.randomBytes()).not.toEqual(first)
  })

  test('behavior: the teePubkey is a stable 120-byte DER SPKI', async () => {
    const tee = await make('pubkey')
    const der = await tee.getEncryptionPublicKey()
    expect(der.length).toBe(120)
    expect(bytesToHex(der.subarray(0, 24))).toBe('3076301006072a8648ce3d020106052b8104002203620004')
    expect(parseP384PublicKey(der)).toBeDefined()
    expect(await tee.getEncryptionPublicKey()).toEqual(der)
  })

  test('behavior: encrypt produces an envelope the receiver opens (tee → peer)', async () => {
    const tee = await make('encrypt')
    const peer = await generateP384PrivateKey(seededRandom('peer'))
    const sealed = await tee.encrypt('{"hello":"wörld"}', peer.publicKey.der)
    expect(sealed.nonce.length).toBe(12)
    expect(sealed.senderPublicKeyDer).toEqual(await tee.getEncryptionPublicKey())
    const opened = await decryptEnvelope({
      privateKey: peer,
      peerPublicKey: parseP384PublicKey(sealed.senderPublicKeyDer)!,
      nonce: sealed.nonce,
      ciphertext: sealed.encryptedData,
    })
    expect(opened).toBe('{"hello":"wörld"}')
  })

  test('behavior: encrypt accepts a SEC1 receiver key and never reuses a nonce', async () => {
    const tee = await make('encrypt-sec1')
    const peer = await generateP384PrivateKey(seededRandom('peer-sec1'))
    const first = await tee.encrypt('x', peer.publicKey.sec1)
    const second = await tee.encrypt('x', peer.publicKey.sec1)
    expect(first.nonce).not.toEqual(second.nonce)
  })

  test('behavior: decrypt opens an envelope from a peer (peer → tee), sender as DER or SEC1', async () => {
    const tee = await make('decrypt')
    const peer = await generateP384PrivateKey(seededRandom('peer-2'))
    expect(await tee.decrypt(await peerEnvelope(peer, tee, '{"a":1}', new Uint8Array(12).fill(1)))).toBe('{"a":1}')
    const viaSec1 = await peerEnvelope(peer, tee, '{"b":2}', new Uint8Array(12).fill(2))
    expect(await tee.decrypt({ ...viaSec1, senderPublicKeyDer: peer.publicKey.sec1 })).toBe('{"b":2}')
  })

  test('property: any text round-trips through the tee both ways', async () => {
    const tee = await make('roundtrip')
    const peer = await generateP384PrivateKey(seededRandom('peer-3'))
    const nonces = seededRandom('nonces')
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 100 }), async (plaintext) => {
        expect(await tee.decrypt(await peerEnvelope(peer, tee, plaintext, nonces.bytes(12)))).toBe(plaintext)
        const sealed = await tee.encrypt(plaintext, peer.publicKey.der)
        const opened = await decryptEnvelope({
          privateKey: peer,
          peerPublicKey: parseP384PublicKey(sealed.senderPublicKeyDer)!,
          nonce: sealed.nonce,
          ciphertext: sealed.encryptedData,
        })
        expect(opened).toBe(plaintext)
      }),
      { numRuns: 15 },
    )
  })

  test('error: a replayed (sender, nonce) pair is decryption_failed', async () => {
    const tee = await make('replay')
    const peer = await generateP384PrivateKey(seededRandom('peer-4'))
    const envelope = await peerEnvelope(peer, tee, '{}', new Uint8Array(12).fill(3))
    expect(await tee.decrypt(envelope)).toBe('{}')
    expect(await rejectionBody(tee.decrypt(envelope))).toEqual(FAILED)
    expect(await rejectionBody(tee.decrypt({ ...envelope, senderPublicKeyDer: peer.publicKey.sec1 }))).toEqual(FAILED)
  })

  test('behavior: a rejected envelope does not burn its (sender, nonce) pair', async () => {
    const tee = await make('no-burn')
    const peer = await generateP384PrivateKey(seededRandom('peer-5'))
    const envelope = await peerEnvelope(peer, tee, '{"k":1}', new Uint8Array(12).fill(4))
    const forged = envelope.encryptedData.slice()
    forged[0]! ^= 0x80
    expect(await rejectionBody(tee.decrypt({ ...envelope, encryptedData: forged }))).toEqual(FAILED)
    expect(await tee.decrypt(envelope)).toBe('{"k":1}')
  })

  test('error: tampering, a wrong sender, a bad key or a bad nonce is decryption_failed', async () => {
    const tee = await make('tamper')
    const peer = await generateP384PrivateKey(seededRandom('peer-6'))
    const stranger = await generateP384PrivateKey(seededRandom('stranger'))
    const envelope = await peerEnvelope(peer, tee, '{"k":2}', new Uint8Array(12).fill(5))
    const tampered = envelope.encryptedData.slice()
    tampered[tampered.length - 1]! ^= 1
    for (const attempt of [
      { ...envelope, encryptedData: tampered },
      { ...envelope, encryptedData: envelope.encryptedData.subarray(0, 10) },
      { ...envelope, senderPublicKeyDer: stranger.publicKey.der },
      { ...envelope, senderPublicKeyDer: new Uint8Array(120) },
      { ...envelope, nonce: envelope.nonce.subarray(0, 11) },
      { ...envelope, nonce: new Uint8Array(32) },
    ]) {
      expect(await rejectionBody(tee.decrypt(attempt))).toEqual(FAILED)
    }
  })

  test('error: a plaintext that is not UTF-8 is decryption_failed', async () => {
    const tee = await make('utf8')
    const peer = await generateP384PrivateKey(seededRandom('peer-7'))
    const nonce = new Uint8Array(12).fill(6)
    const key = await deriveEnvelopeKey({ privateKey: peer, peerPublicKey: await teeKey(tee), nonce })
    const encryptedData = await sealRawAesGcm(key, nonce, Uint8Array.of(0x7b, 0xff, 0x7d))
    expect(await rejectionBody(tee.decrypt({ nonce, senderPublicKeyDer: peer.publicKey.der, encryptedData }))).toEqual(FAILED)
  })

  test('error: encrypting to a value that is not a P-384 key is a caller bug', async () => {
    const tee = await make('bad-receiver')
    await expect(tee.encrypt('x', new Uint8Array(120))).rejects.toThrowErrorMatchingInlineSnapshot(
      `[RangeError: receiverPublicKeyDer: expected a P-384 public key]`,
    )
  })

  test('behavior: getAttestation hands the issuer the decoded request, the wallet and the teePubkey', async () => {
    const tee = await make('attestation')
    const peer = await generateP384PrivateKey(seededRandom('peer-8'))
    // 0xfb 0xff yields '+' and '/' in standard base64: the nonce must survive the wire as bytes.
    const nonce = Uint8Array.of(0xfb, 0xff, ...new Uint8Array(14).fill(0xbe))
    const document = await tee.getAttestation({ nonce, publicKeyDer: peer.publicKey.der, userData: { eth_addr: NODE_WALLET, n: [1, 'x'] } })
    expect(JSON.parse(parseUtf8(document)!)).toEqual({
      nonce: bytesToHex(nonce),
      publicKeyDer: bytesToHex(peer.publicKey.der),
      userData: { eth_addr: NODE_WALLET, n: [1, 'x'] },
      wallet: NODE_WALLET,
      teePublicKeyDer: bytesToHex(await tee.getEncryptionPublicKey()),
    })
  })

  test('behavior: getAttestation without a key or user data passes neither', async () => {
    const tee = await make('attestation-bare')
    const document = JSON.parse(parseUtf8(await tee.getAttestation({ nonce: new Uint8Array(16) }))!)
    expect(document).toMatchObject({ publicKeyDer: null, userData: null, wallet: NODE_WALLET })
  })

  test('error: an issuer failure is service_unavailable', async () => {
    const tee = await make('attestation-failing', {
      issueAttestation: async () => {
        throw new Error('issuer broke')
      },
    })
    expect(await rejectionBody(tee.getAttestation({ nonce: new Uint8Array(16) }))).toMatchInlineSnapshot(`
      {
        "code": "service_unavailable",
        "message": "Enclave helper unavailable",
      }
    `)
  })
})
