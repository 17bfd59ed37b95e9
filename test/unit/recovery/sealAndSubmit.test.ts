import { describe, expect, it } from 'vitest'
import { p384 } from '@noble/curves/nist.js'
import { generateP384PrivateKey, importP384PrivateKey, encryptEnvelope, masterSecretHash } from '../../../core/crypto'
import { bytesToHex, canonicalJson } from '../../../core/encoding'
import {
  buildRecoveryShareSubmission,
  openRecoveryShare,
  openRecoveryShareReceipt,
  parseRecoveryShareSubmission,
  recoveryShareCommitment,
  recoveryShareReceiptPlaintext,
  sealRecoveryShare,
  splitSecret,
  verifyRecoveryShareSignature,
  RECOVERY_SHARE_INFO,
  type RecoveryShareBinding,
} from '../../../core/recovery'
import { decryptEnvelope } from '../../../core/crypto'
import { seededRandom } from '../crypto/_random'

const random = seededRandom('recovery-seal')
const secret = random.bytes(32)
const secretHash = masterSecretHash(secret)
const binding: RecoveryShareBinding = {
  chainId: 31337,
  kmsRegistry: '0x00000000000000000000000000000000000000aa',
  secretHash,
  policyId: 2,
  index: 1,
  threshold: 2,
}

async function custodian(label: string) {
  const scalar = seededRandom(label).bytes(48)
  return { scalar, key: await importP384PrivateKey(scalar) }
}

describe('sealed recovery shares (§7.6)', () => {
  it('round-trips and refuses every bound field changed', async () => {
    const { key } = await custodian('custodian-1')
    const [, share] = splitSecret({ secret, shares: 3, threshold: 2, random })
    const sealed = await sealRecoveryShare({ ephemeralKey: await generateP384PrivateKey(random), custodianKeyDer: key.publicKey.der, binding, share: share!, random })
    const commitment = recoveryShareCommitment(share!)
    expect(await openRecoveryShare({ custodianKey: key, sealedShare: sealed, commitment, expected: binding })).toEqual(share)

    const variants: RecoveryShareBinding[] = [
      { ...binding, chainId: 1 },
      { ...binding, kmsRegistry: '0x00000000000000000000000000000000000000ab' },
      { ...binding, secretHash: new Uint8Array(32) },
      { ...binding, policyId: 3 },
      { ...binding, index: 0 },
      { ...binding, threshold: 3 },
    ]
    for (const expected of variants) {
      await expect(openRecoveryShare({ custodianKey: key, sealedShare: sealed, commitment, expected })).rejects.toMatchObject({ code: 'bad_request' })
    }
    await expect(openRecoveryShare({ custodianKey: key, sealedShare: sealed, commitment: new Uint8Array(32), expected: binding })).rejects.toThrow(/refused/)
    const flipped = sealed.slice()
    flipped[flipped.length - 1]! ^= 1
    await expect(openRecoveryShare({ custodianKey: key, sealedShare: flipped, commitment, expected: binding })).rejects.toMatchObject({ code: 'decryption_failed' })
    const other = await custodian('custodian-2')
    await expect(openRecoveryShare({ custodianKey: other.key, sealedShare: sealed, commitment, expected: binding })).rejects.toMatchObject({ code: 'decryption_failed' })
    expect(sealed.length).toBeGreaterThan(132 + 16)
  })

  it('the §10.2 standard label does not open a sealed share (domain separation)', async () => {
    const { key } = await custodian('custodian-1')
    const eph = await generateP384PrivateKey(random)
    const nonce = random.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: eph, peerPublicKey: key.publicKey, nonce, plaintext: '{}' })
    await expect(decryptEnvelope({ privateKey: key, peerPublicKey: eph.publicKey, nonce, ciphertext, info: RECOVERY_SHARE_INFO })).rejects.toMatchObject({ code: 'decryption_failed' })
  })

  it('refuses to seal to a key that is not a P-384 point', async () => {
    const bad = new Uint8Array(120)
    await expect(
      sealRecoveryShare({ ephemeralKey: await generateP384PrivateKey(random), custodianKeyDer: bad, binding, share: new Uint8Array(33).fill(1), random }),
    ).rejects.toMatchObject({ code: 'bad_request' })
  })
})

describe('POST /recovery/share submission and receipt', () => {
  it('builds a submission the node opens, parses and verifies; tampering breaks the signature', async () => {
    const cust = await custodian('custodian-1')
    const node = await generateP384PrivateKey(random)
    const share = splitSecret({ secret, shares: 3, threshold: 2, random })[0]!
    const submission = { nodeWallet: '0x00000000000000000000000000000000000000bb' as const, secretHash, policyId: 2, custodianIndex: 0, share }
    const { envelope, requestNonce } = await buildRecoveryShareSubmission({ custodianScalar: cust.scalar, nodeTeePubkeyDer: node.publicKey.der, submission, random })
    expect(envelope.nonce).toBe(requestNonce)
    expect(envelope.sender_tee_pubkey).toBe(bytesToHex(cust.key.publicKey.der))
    const plaintext = await decryptEnvelope({
      privateKey: node,
      peerPublicKey: cust.key.publicKey,
      nonce: Uint8Array.from(Buffer.from(envelope.nonce, 'hex')),
      ciphertext: Uint8Array.from(Buffer.from(envelope.encrypted_data, 'hex')),
    })
    const parsed = parseRecoveryShareSubmission(JSON.parse(plaintext))
    expect(parsed.share).toEqual(share)
    expect(verifyRecoveryShareSignature({ submission: parsed, signature: parsed.signature, custodianKeyDer: cust.key.publicKey.der })).toBe(true)
    expect(verifyRecoveryShareSignature({ submission: { ...parsed, custodianIndex: 1 }, signature: parsed.signature, custodianKeyDer: cust.key.publicKey.der })).toBe(false)
    const other = await custodian('custodian-2')
    expect(verifyRecoveryShareSignature({ submission: parsed, signature: parsed.signature, custodianKeyDer: other.key.publicKey.der })).toBe(false)
    // A high-s signature (as WebCrypto may produce) verifies too.
    const sig = p384.Signature.fromBytes(parsed.signature)
    const high = new p384.Signature(sig.r, p384.Point.CURVE().n - sig.s).toBytes()
    expect(verifyRecoveryShareSignature({ submission: parsed, signature: high, custodianKeyDer: cust.key.publicKey.der })).toBe(true)

    const good = JSON.parse(plaintext) as Record<string, unknown>
    for (const [field, value] of [['extra', 1], ['v', 2], ['node_wallet', '0xBB'], ['secret_hash', '0x00'], ['policy_id', 0], ['custodian_index', 16], ['share', '0x' + '00'.repeat(33)], ['signature', '0x00']] as const) {
      expect(() => parseRecoveryShareSubmission({ ...good, [field]: value })).toThrow(/invalid recovery share submission/)
    }
  })

  it('the custodian opens the receipt only from the node key and for its request', async () => {
    const cust = await custodian('custodian-1')
    const node = await generateP384PrivateKey(random)
    const expected = { nodeWallet: '0x00000000000000000000000000000000000000bb' as const, secretHash, policyId: 2 }
    const receipt = { requestNonce: 'ab'.repeat(12), ...expected, received: 1, threshold: 2, custodiansAnswered: [0], state: 'awaiting' as const }
    const seal = async (inner: unknown, from = node) => {
      const nonce = random.bytes(12)
      const ct = await encryptEnvelope({ privateKey: from, peerPublicKey: cust.key.publicKey, nonce, plaintext: canonicalJson(inner as never) })
      return { sender_tee_pubkey: bytesToHex(from.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ct) }
    }
    const body = await seal(recoveryShareReceiptPlaintext(receipt))
    const opened = await openRecoveryShareReceipt({ custodianScalar: cust.scalar, nodeTeePubkeyDer: node.publicKey.der, body, requestNonce: receipt.requestNonce, expected })
    expect(opened).toMatchObject({ received: 1, threshold: 2, custodiansAnswered: [0], state: 'awaiting' })
    await expect(openRecoveryShareReceipt({ custodianScalar: cust.scalar, nodeTeePubkeyDer: node.publicKey.der, body, requestNonce: 'cd'.repeat(12), expected })).rejects.toThrow(/request_nonce|receipt/)
    await expect(openRecoveryShareReceipt({ custodianScalar: cust.scalar, nodeTeePubkeyDer: node.publicKey.der, body, requestNonce: receipt.requestNonce, expected: { ...expected, policyId: 3 } })).rejects.toMatchObject({ code: 'bad_request' })
    const impostor = await generateP384PrivateKey(random)
    const forged = await seal(recoveryShareReceiptPlaintext(receipt), impostor)
    await expect(openRecoveryShareReceipt({ custodianScalar: cust.scalar, nodeTeePubkeyDer: node.publicKey.der, body: forged, requestNonce: receipt.requestNonce, expected })).rejects.toMatchObject({ code: 'forbidden' })
  })
})
