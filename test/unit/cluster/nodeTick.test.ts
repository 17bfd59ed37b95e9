/**
 * node_tick's readiness reasons (PROTOCOL §7.1, §7.3) with in-memory collaborators: an
 * in-memory registry behind the same interface (DESIGN §5 allows it in unit tests), the
 * local TEE stand-in, and scripted chain answers.
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../core/chain'
import { PeerCache, Readiness, runNodeTick, type NodeTickContext, type PeerRegistryView } from '../../../core/cluster'
import { KeyRing } from '../../../core/keys'
import { masterSecretHash } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { createLocalTee, type Tee } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'


function instance(wallet: Wallet, teePubkey: Uint8Array, url: string, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return { instanceId: 1, appId: 49, versionId: 1, operator: wallet, instanceUrl: url, teePubkey, teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1, ...overrides }
}

async function setup(options: { peer?: boolean; register?: boolean; mode?: 'dev' | 'enclave'; url?: string; chainHash?: () => Promise<Uint8Array>; registryDown?: boolean; otherPubkey?: boolean } = {}) {
  const clock = new FakeClock(1_767_225_600_000)
  const tee: Tee = await createLocalTee({ random: seededRandom(11) })
  const wallet = await tee.getWallet()
  const teePubkey = await tee.getEncryptionPublicKey()
  const records = new Map<Wallet, InstanceRecord>()
  if (options.register !== false) {
    records.set(wallet, instance(wallet, options.otherPubkey === true ? (await (await createLocalTee({ random: seededRandom(12) })).getEncryptionPublicKey()) : teePubkey, options.url ?? 'http://127.0.0.1:1'))
  }
  if (options.peer === true) {
    const peerTee = await createLocalTee({ random: seededRandom(13) })
    const peerWallet = await peerTee.getWallet()
    records.set(peerWallet, instance(peerWallet, await peerTee.getEncryptionPublicKey(), 'http://127.0.0.1:2', { instanceId: 2 }))
  }
  const registry: PeerRegistryView = {
    getActiveInstances: async () => {
      if (options.registryDown === true) throw new Error('rpc down')
      return [...records.keys()]
    },
    getInstanceByWallet: async (candidate) => records.get(candidate),
    getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
  }
  const readiness = new Readiness()
  const keys = new KeyRing({ kmsAppId: 49 })
  const submitted: Uint8Array[] = []
  let probes = 0
  const context: NodeTickContext = {
    mode: options.mode ?? 'dev',
    tee,
    random: seededRandom(5),
    sleep: async () => undefined,
    peers: new PeerCache({ registry, kmsAppId: 49, mode: options.mode ?? 'dev', clock, ttlSeconds: 180 }),
    keys,
    readiness,
    readMasterSecretHash: options.chainHash ?? (async () => submitted[0] ?? new Uint8Array(32)),
    submitMasterSecretHash: async (hash) => {
      submitted.push(hash)
    },
    peerSecrets: { requestMasterSecret: async () => { throw new Error('no peers') }, pullSnapshot: async () => { throw new Error('no peers') } },
    clearStore: () => undefined,
    identity: { wallet: undefined, instanceUrl: '' },
    snapshotMerged: { value: false },
    probePeers: async () => {
      probes++
    },
    log: () => undefined,
  }
  return { context, readiness, keys, submitted, wallet, probes: () => probes }
}

describe('node_tick readiness (PROTOCOL §7.1)', () => {
  it('behavior: a zero hash generates, submits, awaits; the next tick is available as generated (conformance 85, 86)', async () => {
    const { context, readiness, keys, submitted } = await setup()
    expect(readiness.reason).toBe('initializing')
    await runNodeTick(context)
    expect(readiness.reason).toBe('awaiting on-chain master secret hash')
    expect(submitted).toHaveLength(1)
    expect(submitted[0]).toEqual(keys.hash)
    expect(keys.matches(submitted[0]!)).toBe(true)
    await runNodeTick(context)
    expect(readiness.available).toBe(true)
    expect(readiness.reason).toBe('')
    expect(keys.state).toBe('generated')
    expect(context.identity.instanceUrl).toBe('http://127.0.0.1:1')
  })

  it('error: a node the registry does not list reports self not in KMS node list (conformance 89)', async () => {
    const { context, readiness } = await setup({ register: false })
    await runNodeTick(context)
    expect(readiness.reason).toBe('self not in KMS node list')
    expect(readiness.isOperator).toBe(false)
  })

  it('error: a registered key that is not the helper\'s reports the mismatch (conformance 89)', async () => {
    const { context, readiness } = await setup({ otherPubkey: true })
    await runNodeTick(context)
    expect(readiness.reason).toBe('local teePubkey mismatch with registry')
  })

  it('error: a dead registry with an empty cache reports peer cache refresh failed', async () => {
    const { context, readiness } = await setup({ registryDown: true })
    await runNodeTick(context)
    expect(readiness.reason).toBe('peer cache refresh failed')
  })

  it('error: an unreadable hash reports cannot read master secret hash', async () => {
    const { context, readiness } = await setup({ chainHash: async () => { throw new Error('down') } })
    await runNodeTick(context)
    expect(readiness.reason).toBe('cannot read master secret hash')
  })

  it('error: a foreign hash with no peer to ask reports master secret sync failed, and never serves', async () => {
    const { context, readiness } = await setup({ chainHash: async () => new Uint8Array(32).fill(7) })
    await runNodeTick(context)
    expect(readiness.reason).toBe('master secret sync failed')
    expect(readiness.available).toBe(false)
  })

  it('behavior: a local secret that matches the chain is never replaced (conformance 88)', async () => {
    const { context, readiness, keys } = await setup()
    await keys.install(new Uint8Array(32).fill(3), 'generated')
    const hash = masterSecretHash(new Uint8Array(32).fill(3))
    context.readMasterSecretHash = async () => hash
    let asked = 0
    context.peerSecrets.requestMasterSecret = async () => {
      asked++
      return new Uint8Array(32).fill(4)
    }
    await runNodeTick(context)
    expect(readiness.available).toBe(true)
    expect(asked).toBe(0)
    expect(keys.hash).toEqual(masterSecretHash(new Uint8Array(32).fill(3)))
  })

  it('behavior: a preloaded secret pulls one snapshot from a peer before it first serves (conformance 92)', async () => {
    const { context, readiness, keys } = await setup({ peer: true })
    await keys.install(new Uint8Array(32).fill(3), 'generated')
    const hash = masterSecretHash(new Uint8Array(32).fill(3))
    context.readMasterSecretHash = async () => hash
    const pulled: string[] = []
    context.peerSecrets.pullSnapshot = async (peer) => {
      pulled.push(peer.url)
      expect(readiness.available).toBe(false)
    }
    await runNodeTick(context)
    expect(pulled).toEqual(['http://127.0.0.1:2'])
    expect(readiness.available).toBe(true)
    expect(context.snapshotMerged.value).toBe(true)
    await runNodeTick(context)
    expect(pulled).toHaveLength(1)
  })

  it('behavior: enclave mode probes peers\' /status for /nodes (§7.2); dev mode does not', async () => {
    const dev = await setup({ mode: 'dev' })
    await runNodeTick(dev.context)
    expect(dev.probes()).toBe(0)
    const enclave = await setup({ mode: 'enclave', url: 'https://node.example' })
    await runNodeTick(enclave.context)
    expect(enclave.probes()).toBe(1)
  })
})
