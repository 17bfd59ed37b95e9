/**
 * `POST /recovery/share` (PROTOCOL §7.6) against its handler with in-memory collaborators:
 * each refusal has its code, none disturbs the collected shares, the threshold installs.
 */
import { describe, expect, it } from 'vitest'
import { AuditLog } from '../../../core/audit'
import type { RecoveryBackup, RecoveryPolicy } from '../../../core/chain'
import { Readiness } from '../../../core/cluster'
import { p384 } from '@noble/curves/nist.js'
import { encryptEnvelope, importP384PrivateKey, masterSecretHash, parseP384PublicKey } from '../../../core/crypto'
import { bytesToHex, canonicalJson } from '../../../core/encoding'
import type { Wallet } from '../../../core/encoding'
import { KeyRing } from '../../../core/keys'
import type { KmsNode } from '../../../core/node'
import {
  buildRecoveryShareSubmission,
  openRecoveryShareReceipt,
  recoveryShareCommitment,
  recoverySubmissionSignedMessage,
  RecoveryProgress,
  splitSecret,
} from '../../../core/recovery'
import { createLocalTee } from '../../../core/tee'
import { recoveryShare } from '../../../functions/recovery_share'
import { seededRandom } from '../crypto/_random'

const secret = seededRandom('route-secret').bytes(32)
const hash = masterSecretHash(secret)
const shares = splitSecret({ secret, shares: 3, threshold: 2, random: seededRandom('route-split') })

async function setup() {
  const random = seededRandom('route')
  const scalars = [0, 1, 2].map((i) => seededRandom(`route-cust-${i}`).bytes(48))
  const custodianKeys = await Promise.all(scalars.map(importP384PrivateKey))
  const policy: RecoveryPolicy = { policyId: 3, threshold: 2, custodians: custodianKeys.map((k, i) => ({ sealingKeyDer: k.publicKey.der, approver: `0x${String(i + 1).repeat(40)}` as Wallet })) }
  const backup: RecoveryBackup = { secretHash: hash, policyId: 3, publisher: '0x1111111111111111111111111111111111111111', publishedAt: 1, shareCommitments: shares.map(recoveryShareCommitment) }
  const tee = await createLocalTee({ random: seededRandom('route-tee') })
  const wallet = await tee.getWallet()
  const nodeKey = await tee.getEncryptionPublicKey()
  const recovery = new RecoveryProgress()
  const chain = { hash, policy: policy as RecoveryPolicy | undefined }
  const keys = new KeyRing({ kmsAppId: 49 })
  const node = {
    recovery,
    recoveryReader: { activeRecoveryPolicy: async () => chain.policy, recoveryPolicy: async () => undefined, backup: async () => backup, sealedShare: async () => undefined },
    epochReader: { readEpochs: async () => ({ current: 0, epochs: [{ epoch: 0, hash: chain.hash, retired: false }] }) },
    keys,
    tee,
    identity: { wallet, instanceUrl: '' },
    readiness: new Readiness(),
    config: { maxRequestBodyBytes: 1 << 20 },
    admission: undefined,
    log: () => undefined,
    audit: new AuditLog({ clock: { nowMs: () => 0 }, random: seededRandom('audit') }),
  } as unknown as KmsNode
  const submit = async (index: number, overrides: { share?: Uint8Array; nodeWallet?: Wallet; secretHash?: Uint8Array; policyId?: number; custodianIndex?: number; scalar?: Uint8Array } = {}) => {
    const built = await buildRecoveryShareSubmission({
      custodianScalar: overrides.scalar ?? scalars[index]!,
      nodeTeePubkeyDer: nodeKey,
      submission: {
        nodeWallet: overrides.nodeWallet ?? wallet,
        secretHash: overrides.secretHash ?? hash,
        policyId: overrides.policyId ?? 3,
        custodianIndex: overrides.custodianIndex ?? index,
        share: overrides.share ?? shares[index]!,
      },
      random,
    })
    const body = JSON.stringify(built.envelope)
    return { built, body, send: (b = body) => recoveryShare.handle(new Request('http://node/recovery/share', { method: 'POST', body: b }), node) }
  }
  return { node, recovery, keys, policy, backup, chain, scalars, nodeKey, wallet, submit }
}

describe('POST /recovery/share', () => {
  it('refuses everything that is wrong, with its code, and leaves the collected shares alone; the threshold installs', async () => {
    const t = await setup()
    const first = await t.submit(0)
    await expect(first.send()).rejects.toMatchObject({ status: 409, message: 'not awaiting recovery shares' })
    t.recovery.await(hash, t.policy, t.backup)

    const response = await first.send()
    expect(response.status).toBe(200)
    const receipt = await openRecoveryShareReceipt({
      custodianScalar: t.scalars[0]!, nodeTeePubkeyDer: t.nodeKey, body: await response.json(), requestNonce: first.built.requestNonce,
      expected: { nodeWallet: t.wallet, secretHash: hash, policyId: 3 },
    })
    expect(receipt).toMatchObject({ received: 1, threshold: 2, custodiansAnswered: [0], state: 'awaiting' })
    expect(t.node.readiness.reason).toBe('awaiting recovery shares (1/2)')

    const collector = t.recovery.awaiting!.collector
    const refusals: [() => Promise<Response>, object][] = [
      [() => first.send(), { code: 'decryption_failed' }], // replayed envelope
      [async () => (await t.submit(0)).send(), { code: 'conflict', message: 'share already received' }],
      [async () => (await t.submit(0, { scalar: seededRandom('stranger').bytes(48) })).send(), { code: 'forbidden' }],
      [async () => (await t.submit(1, { custodianIndex: 2, share: shares[2]! })).send(), { code: 'forbidden' }],
      [async () => (await t.submit(1, { nodeWallet: '0x9999999999999999999999999999999999999999' })).send(), { code: 'forbidden', message: 'node_wallet is not this node' }],
      [async () => (await t.submit(1, { secretHash: new Uint8Array(32).fill(7) })).send(), { code: 'conflict' }],
      [async () => (await t.submit(1, { policyId: 4 })).send(), { code: 'conflict' }],
      [async () => (await t.submit(1, { share: shares[2]! })).send(), { code: 'bad_request', message: 'share does not match its commitment' }],
      [async () => (await t.submit(1)).send('{"nonce":"00"}'), { code: 'bad_request' }],
      [async () => (await t.submit(1)).send('not json'), { code: 'bad_request' }],
      [async () => (await t.submit(1)).send('x'.repeat(9000)), { code: 'payload_too_large' }],
    ]
    for (const [attempt, expected] of refusals) await expect(attempt()).rejects.toMatchObject(expected)
    // A tampered ciphertext does not decrypt.
    const tampered = await t.submit(1)
    const envelope = { ...tampered.built.envelope, encrypted_data: tampered.built.envelope.encrypted_data.slice(0, -2) + '00' }
    await expect(tampered.send(JSON.stringify(envelope))).rejects.toMatchObject({ code: 'decryption_failed' })
    expect(collector.received).toBe(1)
    expect(collector.answered).toEqual([0])
    expect(t.keys.isInstalled).toBe(false)

    // Chain unreadable: fail closed, shares untouched.
    t.chain.policy = undefined
    await expect((await t.submit(2)).send()).rejects.toMatchObject({ code: 'conflict' })
    t.chain.policy = t.policy
    expect(collector.received).toBe(1)

    const last = await t.submit(2)
    const done = await last.send()
    expect(done.status).toBe(200)
    const final = await openRecoveryShareReceipt({
      custodianScalar: t.scalars[2]!, nodeTeePubkeyDer: t.nodeKey, body: await done.json(), requestNonce: last.built.requestNonce,
      expected: { nodeWallet: t.wallet, secretHash: hash, policyId: 3 },
    })
    expect(final).toMatchObject({ received: 2, custodiansAnswered: [0, 2], state: 'recovered' })
    expect(t.keys.state).toBe('recovered')
    expect(t.keys.matches(hash)).toBe(true)
    await expect((await t.submit(1)).send()).rejects.toMatchObject({ message: 'not awaiting recovery shares' })
  })

  it('refuses a submission sealed by custodian 1 but signed by another key (403 unauthorized), and keeps the collected share', async () => {
    const t = await setup()
    t.recovery.await(hash, t.policy, t.backup)
    expect((await (await t.submit(0)).send()).status).toBe(200)
    // The envelope's sender is custodian 1, so the sender check passes; only the signature is wrong.
    const submission = { nodeWallet: t.wallet, secretHash: hash, policyId: 3, custodianIndex: 1, share: shares[1]! }
    const forged = p384.sign(recoverySubmissionSignedMessage(submission), t.scalars[2]!, { prehash: true })
    const plaintext = canonicalJson({
      type: 'recovery_share_submission', v: 1, node_wallet: t.wallet, secret_hash: `0x${bytesToHex(hash)}`, policy_id: 3,
      custodian_index: 1, share: `0x${bytesToHex(shares[1]!)}`, signature: `0x${bytesToHex(forged)}`,
    })
    const sender = await importP384PrivateKey(t.scalars[1]!)
    const nonce = seededRandom('forged-nonce').bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: sender, peerPublicKey: parseP384PublicKey(t.nodeKey)!, nonce, plaintext })
    const body = JSON.stringify({ sender_tee_pubkey: bytesToHex(sender.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ciphertext) })
    await expect(recoveryShare.handle(new Request('http://node/recovery/share', { method: 'POST', body }), t.node)).rejects.toMatchObject({ status: 403, code: 'unauthorized' })
    const collector = t.recovery.awaiting!.collector
    expect(collector.answered).toEqual([0])
    // The same share, honestly signed, is then accepted: the forgery consumed nothing.
    expect((await (await t.submit(1)).send()).status).toBe(200)
    expect(t.keys.state).toBe('recovered')
  })

  it('accepts shares for epoch 0 while a rotation has opened epoch 1 with no hash yet, and installs them as epoch 0 (§7.7)', async () => {
    const t = await setup()
    t.node.epochReader.readEpochs = async () => ({ current: 1, epochs: [{ epoch: 1, hash: new Uint8Array(32), retired: false }, { epoch: 0, hash, retired: false }] })
    t.recovery.await(hash, t.policy, t.backup, 0)
    expect((await (await t.submit(0)).send()).status).toBe(200)
    expect((await (await t.submit(1)).send()).status).toBe(200)
    expect(t.keys.heldEpochs).toEqual([0])
    expect(t.keys.matchesEpoch(0, hash)).toBe(true)
  })

  it('refuses shares when the awaited epoch was retired meanwhile (409, nothing collected)', async () => {
    const t = await setup()
    t.node.epochReader.readEpochs = async () => ({ current: 1, epochs: [{ epoch: 1, hash: new Uint8Array(32).fill(9), retired: false }, { epoch: 0, hash, retired: true }] })
    t.recovery.await(hash, t.policy, t.backup, 0)
    await expect((await t.submit(0)).send()).rejects.toMatchObject({ status: 409 })
    expect(t.recovery.awaiting!.collector.received).toBe(0)
  })

  it('refuses a share whose collection a node_tick replaced while the chain was read, and the new collection stays empty', async () => {
    const t = await setup()
    t.recovery.await(hash, t.policy, t.backup)
    const chainRead = t.node.epochReader.readEpochs
    // While the route awaits the chain, a tick drops the collection and starts a new one (as
    // after a hash reset and re-set); the in-flight share belongs to neither.
    t.node.epochReader.readEpochs = async () => {
      t.recovery.stopAwaiting()
      t.recovery.await(hash, t.policy, t.backup)
      return chainRead()
    }
    await expect((await t.submit(0)).send()).rejects.toMatchObject({ status: 409, message: 'not awaiting recovery shares' })
    expect(t.recovery.awaiting!.collector.received).toBe(0)
  })
})
