/**
 * Runtime-client conformance (RUNTIME.md §1) against a real cluster: three `node dist/kms.mjs`
 * processes on anvil with the real contracts, spoken to by the runtime-like client exactly as
 * a production app's runtime speaks to them. The suite stops nodes at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainReaders, type NovaAppRegistryReader } from '../../core/chain'
import {
  checkNodeIdentity,
  createRuntimeKmsClient,
  discoverKmsNodes,
  KmsClient,
  KmsClientError,
  KmsNodesUnavailableError,
  KmsReservedPathError,
  NodeDirectory,
  RuntimeKmsClient,
  authorizeRuntimeInstance,
  type DiscoveredKmsNode,
  type FetchFunction,
} from '../../core/client'
import { bytesToHex, parseHex } from '../../core/encoding'
import { cryptoRandom, systemClock } from '../helpers/kmsNodes'
import { registerRuntimeApp, startPlatformCluster, type PlatformCluster, type RuntimeApp } from './_cluster'
import { startSignatureRelay, type SignatureRelay } from './_signatureRelay'

const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds))
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

let cluster: PlatformCluster
let app: RuntimeApp
let registry: NovaAppRegistryReader
let kmsAppId: number
/** Every URL the runtime client fetched, in order. */
const fetched: string[] = []
const recordingFetch: FetchFunction = (input, init) => {
  fetched.push(String(input))
  return fetch(input, init)
}

function runtimeClient(): RuntimeKmsClient {
  return createRuntimeKmsClient({ registry, kmsAppId, appId: app.appId, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom, sleep, fetch: recordingFetch }).client
}

/** A runtime client whose only node is `node`, reached at `url` (a relay in front of it). */
function clientThrough(node: DiscoveredKmsNode, url: string): RuntimeKmsClient {
  const relayed = { ...node, url }
  return new RuntimeKmsClient({
    directory: new NodeDirectory({ discover: async () => [relayed], clock: systemClock }),
    authorize: () => authorizeRuntimeInstance({ registry, wallet: app.wallet, appId: app.appId }),
    walletKey: app.walletKey,
    teeKey: app.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    sleep,
  })
}

beforeAll(async () => {
  cluster = await startPlatformCluster()
  kmsAppId = cluster.chain.addresses.kmsAppId
  registry = createChainReaders({ rpcUrl: cluster.chain.rpcUrl, novaAppRegistry: cluster.chain.addresses.novaAppRegistry, kmsRegistry: cluster.chain.addresses.kmsRegistry }).novaAppRegistry
  app = await registerRuntimeApp(cluster.chain, 2001)
}, 300_000)

afterAll(async () => {
  await cluster?.stop()
})

describe('discovery and identity (RUNTIME.md §1)', () => {
  it('behavior: discovery lists the three registered nodes, sorted by URL, with their registry wallet and teePubkey', async () => {
    const nodes = await discoverKmsNodes({ registry, kmsAppId })
    const urls = cluster.members.map((member) => member.node.url).sort()
    expect(nodes.map((node) => node.url)).toEqual(urls)
    for (const node of nodes) {
      const member = cluster.members.find((candidate) => candidate.node.url === node.url)!
      expect(node.wallet).toBe(member.wallet)
      expect(bytesToHex(node.teePubkeyDer)).toBe((await member.node.status()).node.tee_pubkey)
    }
  })

  it('behavior: every node\'s /status passes the identity binding: lowercase hex of the registry DER, registry wallet', async () => {
    for (const node of await discoverKmsNodes({ registry, kmsAppId })) {
      const status = (await (await fetch(`${node.url}/status`)).json()) as { node: { tee_pubkey: string } }
      expect(status.node.tee_pubkey).toMatch(/^[0-9a-f]+$/)
      expect(checkNodeIdentity(status, node)).toEqual({ matches: true })
    }
    const directory = new NodeDirectory({ discover: () => discoverKmsNodes({ registry, kmsAppId }), clock: systemClock })
    expect(await directory.candidates()).toHaveLength(3)
  })
})

describe('requests and answers (RUNTIME.md §1)', () => {
  it('behavior: derive works with the current label, and matches the SDK\'s derive for the same app', async () => {
    const key = await runtimeClient().derive({ path: 'wallet/root', context: 'session-a' })
    const [first] = await discoverKmsNodes({ registry, kmsAppId })
    const sdk = new KmsClient({ node: first!, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom })
    expect(bytesToHex(key)).toBe(bytesToHex((await sdk.derive({ path: 'wallet/root', context: 'session-a' })).key))
  })

  it('error: a node refuses an envelope sealed with an older label (decryption_failed)', async () => {
    const [first] = await discoverKmsNodes({ registry, kmsAppId })
    const old = new KmsClient({ node: first!, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom, envelopeInfo: 'enclaver-ecdh-aes256gcm-v1' })
    const error = await old.derive({ path: 'wallet/root' }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsClientError)
    expect(error).toMatchObject({ status: 400, code: 'decryption_failed' })
  })

  it('behavior: nodes counter-sign with v ∈ {0, 1}, and accept the runtime\'s v 0/1 PoP', async () => {
    const [first] = await discoverKmsNodes({ registry, kmsAppId })
    const relay = await startSignatureRelay(first!.url)
    try {
      await clientThrough(first!, relay.url).kvPut('v-check', bytes('x'))
      await clientThrough(first!, relay.url).derive({ path: 'v-check' })
      expect(relay.signatures.length).toBeGreaterThanOrEqual(2)
      for (const signature of relay.signatures) expect(parseHex(signature)![64]).toBeLessThanOrEqual(1)
    } finally {
      await relay.close()
    }
  })

  it('error: the same counter-signature with v = 27/28 is rejected by the runtime client (the SDK still takes it)', async () => {
    const [first] = await discoverKmsNodes({ registry, kmsAppId })
    const relay: SignatureRelay = await startSignatureRelay(first!.url)
    relay.rewriteV = true
    try {
      const error = (await clientThrough(first!, relay.url).derive({ path: 'wallet/root' }).catch((caught: unknown) => caught)) as KmsNodesUnavailableError
      expect(error).toBeInstanceOf(KmsNodesUnavailableError)
      expect(new Set(error.failures.map((failure) => failure.reason))).toEqual(new Set(['response signature v is not 0 or 1']))
      const sdk = new KmsClient({ node: { ...first!, url: relay.url }, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom })
      await expect(sdk.derive({ path: 'wallet/root' })).resolves.toBeDefined()
    } finally {
      await relay.close()
    }
  })

  it('behavior: kv put, get, delete; a second delete and a missing key read as not found', async () => {
    const client = runtimeClient()
    await client.kvPut('plain-key', bytes('value 1'))
    expect(await client.kvGet('plain-key')).toEqual({ found: true, value: bytes('value 1') })
    expect(await client.kvDelete('plain-key')).toEqual({ deleted: true })
    expect(await client.kvDelete('plain-key')).toEqual({ deleted: false })
    expect(await client.kvGet('plain-key')).toEqual({ found: false })
  })

  it('behavior: the GET key is form-urlencoded (/ → %2F, space → +) and a key with both round-trips', async () => {
    const client = runtimeClient()
    fetched.length = 0
    await client.kvPut('dir/a key', bytes('spaced'))
    const read = await client.kvGet('dir/a key')
    expect(fetched.some((url) => url.endsWith('/kms/data/dir%2Fa+key'))).toBe(true)
    expect(read).toEqual({ found: true, value: bytes('spaced') })
  })

  it('behavior: a literal + in a key round-trips as %2B', async () => {
    const client = runtimeClient()
    await client.kvPut('a+b', bytes('plus'))
    expect(await client.kvGet('a+b')).toEqual({ found: true, value: bytes('plus') })
  })

  it('error: a derive path under wallet/eth/app/ is refused before any node is asked', async () => {
    fetched.length = 0
    await expect(runtimeClient().derive({ path: 'wallet/eth/app/main/private_key' })).rejects.toBeInstanceOf(KmsReservedPathError)
    expect(fetched).toEqual([])
  })
})

describe('rounds over the nodes (RUNTIME.md §1); stops nodes, so it runs last', () => {
  it('behavior: with the first two nodes (URL order) stopped, the third serves', async () => {
    const ordered = [...cluster.members].sort((left, right) => (left.node.url < right.node.url ? -1 : 1))
    const client = runtimeClient()
    const before = await client.derive({ path: 'failover' })
    await ordered[0]!.node.stop()
    await ordered[1]!.node.stop()
    fetched.length = 0
    expect(bytesToHex(await client.derive({ path: 'failover' }))).toBe(bytesToHex(before))
    expect(fetched.filter((url) => url.endsWith('/kms/derive'))).toEqual([`${ordered[2]!.node.url}/kms/derive`])
  })

  it('error: with every node stopped, the call fails after 3 rounds over all nodes, 150 ms apart', async () => {
    await Promise.all(cluster.members.map((member) => member.node.stop()))
    const started = performance.now()
    const error = (await runtimeClient().derive({ path: 'down' }).catch((caught: unknown) => caught)) as KmsNodesUnavailableError
    expect(error).toBeInstanceOf(KmsNodesUnavailableError)
    expect(error.transient).toBe(true)
    expect(error.rounds).toBe(3)
    // Every probe failed, so every node is tried in every round.
    expect(error.failures).toHaveLength(9)
    expect(performance.now() - started).toBeGreaterThanOrEqual(300)
  })
})
