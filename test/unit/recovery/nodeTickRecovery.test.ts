/**
 * node_tick's recovery steps (PROTOCOL §7.6) with in-memory collaborators: backup publishing
 * once available, awaiting shares when no peer holds the secret, failing closed on reads.
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord, RecoveryBackup, RecoveryPolicy } from '../../../core/chain'
import { PeerCache, Readiness, runNodeTick, type NodeTickContext, type PeerRegistryView } from '../../../core/cluster'
import { KeyRing } from '../../../core/keys'
import { importP384PrivateKey, masterSecretHash } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { RecoveryProgress, BACKUP_RESUBMIT_TICKS, splitSecret } from '../../../core/recovery'
import { createLocalTee } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

async function setup(options: { secret?: Uint8Array; chainHash: Uint8Array; policy?: RecoveryPolicy; backup?: RecoveryBackup; down?: boolean }) {
  const tee = await createLocalTee({ random: seededRandom(11) })
  const wallet = await tee.getWallet()
  const record: InstanceRecord = {
    instanceId: 1, appId: 49, versionId: 1, operator: wallet, instanceUrl: 'http://127.0.0.1:1', teePubkey: await tee.getEncryptionPublicKey(),
    teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1,
  }
  const registry: PeerRegistryView = {
    getActiveInstances: async () => [wallet],
    getInstanceByWallet: async (candidate) => (candidate === wallet ? record : undefined),
    getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
  }
  const readiness = new Readiness()
  const keys = new KeyRing({ kmsAppId: 49 })
  if (options.secret !== undefined) await keys.install(options.secret, 'generated')
  const progress = new RecoveryProgress()
  const chain = { policy: options.policy, backup: options.backup, down: options.down === true }
  const published: unknown[] = []
  let publishError: unknown
  const logs: string[] = []
  const context: NodeTickContext = {
    mode: 'dev',
    tee,
    random: seededRandom(5),
    sleep: async () => undefined,
    peers: new PeerCache({ registry, kmsAppId: 49, mode: 'dev', clock: new FakeClock(1_767_225_600_000), ttlSeconds: 180 }),
    keys,
    readiness,
    readMasterSecretHash: async () => options.chainHash,
    submitMasterSecretHash: async () => undefined,
    peerSecrets: { requestMasterSecret: async () => { throw new Error('no peers') }, pullSnapshot: async () => { throw new Error('no peers') } },
    clearStore: () => undefined,
    identity: { wallet: undefined, instanceUrl: '' },
    snapshotMerged: { value: true },
    probePeers: async () => undefined,
    recovery: {
      reader: {
        activeRecoveryPolicy: async () => {
          if (chain.down) throw new Error('rpc down')
          return chain.policy
        },
        backup: async () => {
          if (chain.down) throw new Error('rpc down')
          return chain.backup
        },
      },
      progress,
      buildBackup: (policy) => keys.buildRecoveryBackup({ policy, chainId: 31337, kmsRegistry: '0x00000000000000000000000000000000000000aa', random: seededRandom(9) }),
      publishBackup: async (backup) => {
        published.push(backup)
        if (publishError !== undefined) throw publishError
      },
      isAlreadyPublished: (error) => error instanceof Error && error.message === 'BackupAlreadyPublished',
    },
    log: (level, message) => logs.push(`${level}: ${message}`),
  }
  return { context, readiness, keys, progress, chain, published, logs, setPublishError: (e: unknown) => (publishError = e) }
}

const secret = seededRandom(21).bytes(32)
const hash = masterSecretHash(secret)

async function policyOf(count: number, threshold: number): Promise<{ policy: RecoveryPolicy; scalars: Uint8Array[] }> {
  const scalars = Array.from({ length: count }, (_, i) => seededRandom(100 + i).bytes(48))
  const keys = await Promise.all(scalars.map(importP384PrivateKey))
  return { scalars, policy: { policyId: 1, threshold, custodians: keys.map((k, i) => ({ sealingKeyDer: k.publicKey.der, approver: `0x${String(i + 1).repeat(40)}` as Wallet })) } }
}

function backupOf(policy: RecoveryPolicy, commitments: Uint8Array[] = policy.custodians.map(() => new Uint8Array(32))): RecoveryBackup {
  return { secretHash: hash, policyId: policy.policyId, publisher: '0x1111111111111111111111111111111111111111', publishedAt: 1, shareCommitments: commitments }
}

describe('node_tick backup publishing (§7.6)', () => {
  it('publishes once for (hash, policy), not again while pending, again after the resubmit delay', async () => {
    const { policy } = await policyOf(3, 2)
    const t = await setup({ secret, chainHash: hash, policy })
    await runNodeTick(t.context)
    expect(t.readiness.available).toBe(true)
    expect(t.published).toHaveLength(1)
    await runNodeTick(t.context)
    expect(t.published).toHaveLength(1)
    for (let i = 0; i < BACKUP_RESUBMIT_TICKS; i++) await runNodeTick(t.context)
    expect(t.published).toHaveLength(2)
    // Seen on chain: nothing more.
    t.chain.backup = backupOf(policy)
    for (let i = 0; i < BACKUP_RESUBMIT_TICKS + 1; i++) await runNodeTick(t.context)
    expect(t.published).toHaveLength(2)
  })

  it('BackupAlreadyPublished is info and other failures never make the node unavailable', async () => {
    const { policy } = await policyOf(2, 1)
    const t = await setup({ secret, chainHash: hash, policy })
    t.setPublishError(new Error('BackupAlreadyPublished'))
    await runNodeTick(t.context)
    expect(t.readiness.available).toBe(true)
    expect(t.logs).toContain('info: recovery backup already published by another node')
    const u = await setup({ secret, chainHash: hash, policy })
    u.setPublishError(new Error('nonce too low'))
    await runNodeTick(u.context)
    expect(u.readiness.available).toBe(true)
    expect(u.logs.some((l) => l.startsWith('warn: publishBackup failed'))).toBe(true)
  })

  it('a custodian key that is not a point: error logged, nothing published; chain down: nothing sent, still serving', async () => {
    const { policy } = await policyOf(2, 1)
    const bad: RecoveryPolicy = { ...policy, custodians: [policy.custodians[0]!, { ...policy.custodians[1]!, sealingKeyDer: new Uint8Array(120) }] }
    const t = await setup({ secret, chainHash: hash, policy: bad })
    await runNodeTick(t.context)
    expect(t.published).toHaveLength(0)
    expect(t.readiness.available).toBe(true)
    expect(t.logs.some((l) => l.startsWith('error: recovery policy has an invalid custodian key'))).toBe(true)
    const u = await setup({ secret, chainHash: hash, policy, down: true })
    await runNodeTick(u.context)
    expect(u.published).toHaveLength(0)
    expect(u.readiness.available).toBe(true)
  })
})

describe('node_tick awaiting recovery (§7.6)', () => {
  it('no peer and a backup: awaiting (0/t); without backup: master secret sync failed; chain down: cannot read recovery policy', async () => {
    const { policy } = await policyOf(3, 2)
    const t = await setup({ chainHash: hash, policy, backup: backupOf(policy) })
    await runNodeTick(t.context)
    expect(t.readiness.reason).toBe('awaiting recovery shares (0/2)')
    expect(t.progress.awaiting?.collector.threshold).toBe(2)
    const u = await setup({ chainHash: hash, policy })
    await runNodeTick(u.context)
    expect(u.readiness.reason).toBe('master secret sync failed')
    expect(u.progress.awaiting).toBeUndefined()
    t.chain.down = true
    await runNodeTick(t.context)
    expect(t.readiness.reason).toBe('cannot read recovery policy')
  })

  it('keeps shares across ticks, resets on a policy change, and serves once the recovered secret is installed', async () => {
    const { policy } = await policyOf(3, 2)
    const shares = splitSecret({ secret, shares: 3, threshold: 2, random: seededRandom(3) })
    const t = await setup({ chainHash: hash, policy, backup: backupOf(policy) })
    await runNodeTick(t.context)
    t.progress.awaiting!.collector.add(1, shares[1]!)
    await runNodeTick(t.context)
    expect(t.readiness.reason).toBe('awaiting recovery shares (1/2)')
    t.chain.policy = { ...policy, policyId: 2 }
    t.chain.backup = { ...backupOf(policy), policyId: 2 }
    await runNodeTick(t.context)
    expect(t.readiness.reason).toBe('awaiting recovery shares (0/2)')
    const collector = t.progress.awaiting!.collector
    collector.add(0, shares[0]!)
    collector.add(2, shares[2]!)
    expect(await t.keys.installRecovered(collector)).toBe('recovered')
    await runNodeTick(t.context)
    expect(t.readiness.available).toBe(true)
    expect(t.keys.state).toBe('recovered')
    expect(t.progress.awaiting).toBeUndefined()
  })
})
