/**
 * node_tick across key epochs (PROTOCOL §7.7): a rotation commits a fresh secret without
 * making any node unavailable, a node that lost the commit race or joins late fetches the
 * epochs it lacks, and a retired epoch is wiped with the records under it. In-memory
 * collaborators (DESIGN §5 allows them in unit tests) and a scripted epoch view of the chain.
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../core/chain'
import { PeerCache, Readiness, runNodeTick, type ChainEpochView, type EpochStatus, type NodeTickContext, type PeerRegistryView } from '../../../core/cluster'
import { masterSecretHash } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { KeyRing } from '../../../core/keys'
import { createLocalTee } from '../../../core/tee'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

const ZERO = new Uint8Array(32)
const SECRET_0 = new Uint8Array(32).fill(1)
const SECRET_1_OTHER = new Uint8Array(32).fill(2)

function instance(wallet: Wallet, teePubkey: Uint8Array, url: string, instanceId: number): InstanceRecord {
  return { instanceId, appId: 49, versionId: 1, operator: wallet, instanceUrl: url, teePubkey, teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1 }
}

interface Scenario {
  /** What the chain says; tests change it between ticks. */
  chain: { current: number; hashes: Map<number, Uint8Array>; retired: Set<number> }
  /** What the one peer serves, per epoch. */
  peerSecrets: Map<number, Uint8Array>
}

async function setup() {
  const clock = new FakeClock(1_767_225_600_000)
  const tee = await createLocalTee({ random: seededRandom(21) })
  const wallet = await tee.getWallet()
  const peerTee = await createLocalTee({ random: seededRandom(22) })
  const peerWallet = await peerTee.getWallet()
  const records = new Map<Wallet, InstanceRecord>([
    [wallet, instance(wallet, await tee.getEncryptionPublicKey(), 'http://127.0.0.1:1', 1)],
    [peerWallet, instance(peerWallet, await peerTee.getEncryptionPublicKey(), 'http://127.0.0.1:2', 2)],
  ])
  const registry: PeerRegistryView = {
    getActiveInstances: async () => [...records.keys()],
    getInstanceByWallet: async (candidate) => records.get(candidate),
    getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
  }
  const scenario: Scenario = { chain: { current: 0, hashes: new Map([[0, masterSecretHash(SECRET_0)]]), retired: new Set() }, peerSecrets: new Map() }
  const readiness = new Readiness()
  const keys = new KeyRing({ kmsAppId: 49 })
  const submitted: Uint8Array[] = []
  const submission = { fails: false }
  const requested: number[] = []
  const dropped: number[] = []
  const served: number[] = []
  let snapshots = 0
  const status: EpochStatus = { current: 0, live: [], usable: [], missing: [], wiped: [], awaitingCommit: undefined }
  const view = (): ChainEpochView => {
    const { current, hashes, retired } = scenario.chain
    const epochs = [current, current - 1].filter((epoch) => epoch >= 0).map((epoch) => ({ epoch, hash: hashes.get(epoch) ?? ZERO, retired: retired.has(epoch) }))
    return { current, epochs }
  }
  const context: NodeTickContext = {
    mode: 'dev',
    tee,
    random: seededRandom(5),
    sleep: async () => undefined,
    peers: new PeerCache({ registry, kmsAppId: 49, mode: 'dev', clock, ttlSeconds: 180 }),
    keys,
    readiness,
    readMasterSecretHash: async () => {
      throw new Error('the epoch reader replaces masterSecretHash()')
    },
    submitMasterSecretHash: async (hash) => {
      submitted.push(hash)
      if (submission.fails) throw new Error('reverted with MasterSecretHashAlreadySet')
    },
    peerSecrets: {
      requestMasterSecret: async (_peer, epoch = 0) => {
        requested.push(epoch)
        const secret = scenario.peerSecrets.get(epoch)
        if (secret === undefined) throw new Error(`peer does not hold epoch ${epoch}`)
        return secret.slice()
      },
      pullSnapshot: async () => {
        snapshots++
      },
    },
    clearStore: () => undefined,
    identity: { wallet: undefined, instanceUrl: '' },
    snapshotMerged: { value: false },
    probePeers: async () => undefined,
    epochs: {
      readEpochs: async () => view(),
      dropRecordsBelowEpoch: (epoch) => {
        dropped.push(epoch)
      },
      afterServing: async (epoch) => {
        served.push(epoch)
      },
      status,
    },
    log: () => undefined,
  }
  return { context, scenario, readiness, keys, submitted, submission, requested, dropped, served, status, records, wallet, snapshots: () => snapshots }
}

/** A node serving epoch 0 (secret preloaded, hash on chain) after one tick. */
async function servingEpochZero() {
  const setupResult = await setup()
  await setupResult.keys.install(SECRET_0, 'generated')
  await runNodeTick(setupResult.context)
  expect(setupResult.readiness.available).toBe(true)
  return setupResult
}

describe('node_tick with key epochs (PROTOCOL §7.7)', () => {
  it('behavior: a started rotation keeps the node serving on epoch 0 while its fresh candidate for epoch 1 awaits the chain', async () => {
    const { context, scenario, readiness, keys, submitted, status, served } = await servingEpochZero()
    scenario.chain.current = 1
    await runNodeTick(context)
    expect(readiness.available).toBe(true)
    expect(keys.servingEpoch).toBe(0)
    expect(submitted).toHaveLength(1)
    const candidateHash = submitted[0]!
    // Fresh bytes: never the hash of an earlier epoch.
    expect(candidateHash).not.toEqual(masterSecretHash(SECRET_0))
    expect(keys.candidateHash(1)).toEqual(candidateHash)
    expect(keys.holds(1)).toBe(false)
    expect(status).toMatchObject({ current: 1, live: [0, 1], usable: [0], missing: [], awaitingCommit: 1 })
    // The candidate is resubmitted, not redrawn, while the hash stays zero.
    await runNodeTick(context)
    expect(submitted).toHaveLength(2)
    expect(submitted[1]).toEqual(candidateHash)
    expect(served).toEqual([])

    scenario.chain.hashes.set(1, candidateHash)
    await runNodeTick(context)
    expect(readiness.available).toBe(true)
    expect(keys.servingEpoch).toBe(1)
    expect(keys.matchesEpoch(1, candidateHash)).toBe(true)
    expect(keys.candidateHash(1)).toBeUndefined()
    expect(status).toMatchObject({ usable: [0, 1], missing: [], awaitingCommit: undefined })
    expect(keys.state).toBe('generated')
    // The migration report hook runs only once the node serves on the current epoch.
    expect(served).toEqual([1])
  })

  it('behavior: a node whose candidate lost the race drops it and fetches the winner from a peer', async () => {
    const { context, scenario, keys, requested, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    await runNodeTick(context)
    expect(keys.candidateHash(1)).toBeDefined()
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(requested).toEqual([1])
    expect(keys.candidateHash(1)).toBeUndefined()
    expect(keys.matchesEpoch(1, masterSecretHash(SECRET_1_OTHER))).toBe(true)
    expect(keys.servingEpoch).toBe(1)
    expect(readiness.available).toBe(true)
  })

  it('behavior: no peer holds the committed new epoch yet: the node keeps serving epoch 0 and names epoch 1 missing', async () => {
    const { context, scenario, keys, status, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    await runNodeTick(context)
    expect(readiness.available).toBe(true)
    expect(keys.servingEpoch).toBe(0)
    expect(status).toMatchObject({ usable: [0], missing: [1] })
  })

  it('error: a peer serving a secret whose hash is not the chain\'s for that epoch is refused', async () => {
    const { context, scenario, keys } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, new Uint8Array(32).fill(9))
    await runNodeTick(context)
    expect(keys.holds(1)).toBe(false)
    expect(keys.servingEpoch).toBe(0)
  })

  it('behavior: retiring epoch 0 wipes it from the ring and drops the records under it; the node serves on epoch 1', async () => {
    const { context, scenario, keys, dropped, status, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(keys.heldEpochs).toEqual([0, 1])
    scenario.chain.retired.add(0)
    await runNodeTick(context)
    expect(keys.heldEpochs).toEqual([1])
    expect(keys.holds(0)).toBe(false)
    expect(dropped).toEqual([1])
    expect(status).toMatchObject({ live: [1], usable: [1], wiped: [0] })
    expect(readiness.available).toBe(true)
    // Epoch 0's keys are gone: its values no longer open, and nothing derives under it.
    await expect(keys.deriveAppKey({ appId: 7, path: 'p', context: '', length: 32, clusterEpoch: 0 })).rejects.toMatchObject({ status: 503 })
  })

  it('error: a node holding only a retired epoch, with no peer to serve the current one, stops serving', async () => {
    const { context, scenario, keys, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.chain.retired.add(0)
    await runNodeTick(context)
    expect(keys.isInstalled).toBe(false)
    expect(readiness.available).toBe(false)
    expect(readiness.reason).toBe('master secret sync failed')
  })

  it('behavior: a node that joins during the grace period fetches both live epochs, then a snapshot, and serves the current one', async () => {
    const { context, scenario, keys, requested, readiness, snapshots } = await setup()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(0, SECRET_0)
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(requested).toEqual([1, 0])
    expect(keys.heldEpochs).toEqual([0, 1])
    expect(keys.servingEpoch).toBe(1)
    expect(keys.state).toBe('synced')
    expect(snapshots()).toBe(1)
    expect(readiness.available).toBe(true)
  })

  it('behavior: an owner reset of epoch 1 makes the node commit the epoch-1 secret it holds again, serving epoch 0 meanwhile', async () => {
    const { context, scenario, keys, submitted, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(keys.servingEpoch).toBe(1)
    scenario.chain.hashes.set(1, ZERO)
    await runNodeTick(context)
    expect(submitted).toEqual([masterSecretHash(SECRET_1_OTHER)])
    expect(keys.servingEpoch).toBe(0)
    expect(readiness.available).toBe(true)
  })

  it('error: a held epoch newer than the chain\'s current one (a chain that went back) is wiped', async () => {
    const { context, scenario, keys } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(keys.holds(1)).toBe(true)
    scenario.chain.current = 0
    await runNodeTick(context)
    expect(keys.heldEpochs).toEqual([0])
    expect(keys.servingEpoch).toBe(0)
  })

  it('behavior: a node the registry stopped listing still wipes a retired epoch, though its tick stops at step 3', async () => {
    const { context, scenario, keys, readiness, records, wallet } = await servingEpochZero()
    scenario.chain.current = 1
    scenario.chain.hashes.set(1, masterSecretHash(SECRET_1_OTHER))
    scenario.peerSecrets.set(1, SECRET_1_OTHER)
    await runNodeTick(context)
    expect(keys.heldEpochs).toEqual([0, 1])
    records.delete(wallet)
    scenario.chain.retired.add(0)
    await runNodeTick(context)
    expect(readiness.reason).toBe('self not in KMS node list')
    expect(keys.heldEpochs).toEqual([1])
  })

  it('behavior: a commit that fails (another node won) is tried once per tick, not retried within it', async () => {
    const { context, scenario, submitted, submission, readiness } = await servingEpochZero()
    scenario.chain.current = 1
    submission.fails = true
    await runNodeTick(context)
    expect(submitted).toHaveLength(1)
    expect(readiness.available).toBe(true)
    await runNodeTick(context)
    expect(submitted).toHaveLength(2)
  })
})
