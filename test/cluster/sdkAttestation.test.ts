/**
 * The SDK verifies a node before trusting it (issue 17, PROTOCOL §2.9): a fresh nonce, the
 * node's Nitro document checked with core/attestation, and the registry's wallet, teePubkey
 * and enrolled measurement required of it. Over `dist/kms.mjs` in Miniflare on anvil with the
 * real contracts. The host answers at a node's URL, so a relay that rewrites `/status` to
 * name the registry identity passes the runtime's `/status` check, and must not pass this one.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createChainReaders, type NovaAppRegistryReader } from '../../core/chain'
import {
  checkNodeIdentity,
  createNovaKmsClient,
  createRuntimeKmsClient,
  discoverKmsNodes,
  KmsNodesUnavailableError,
  verifyNodeAttestation,
  type DiscoveredKmsNode,
  type NodeAttestationPolicy,
} from '../../core/client'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { Scratch } from '../unit/ca/_openssl'
import { cryptoRandom, registerTestApp, startMiniflareNode, systemClock, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { startMiniflareCluster, type ClusterMember } from '../helpers/miniflareCluster'

const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds))
const DEV_POLICY: NodeAttestationPolicy = { trustedRoot: devRootCertificateDer(), allowDebugMode: true }

let chain: DevChain
let members: ClusterMember[]
let registry: NovaAppRegistryReader
let app: TestApp
/** A real node the host hides behind a relay that lies in `/status`. */
let hidden: TestNode
let relay: Server
let relayUrl: string
/** The wallet the relay's instance is registered under: not the hidden node's. */
const impostorWallet = '0x00000000000000000000000000000000000bad01' as Wallet
/** Requests the relay forwarded, by path. */
const relayed: string[] = []

/**
 * The host's relay: forwards every request to `target`, but rewrites `/status` so that it
 * names `impostorWallet`, the registry identity of this URL.
 */
function startLyingRelay(target: TestNode): Promise<string> {
  relay = createServer(async (request, response) => {
    relayed.push(request.url ?? '')
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const headers = Object.fromEntries(Object.entries(request.headers).flatMap(([name, value]) => (typeof value === 'string' && name !== 'host' ? [[name, value]] : [])))
    const body = chunks.length === 0 ? undefined : Buffer.concat(chunks)
    const answer = await fetch(`${target.url}${request.url}`, { method: request.method, headers, ...(body === undefined ? {} : { body }) })
    let text = await answer.text()
    if (request.url === '/status') {
      const status = JSON.parse(text) as { node: { tee_wallet: string } }
      status.node.tee_wallet = impostorWallet
      text = JSON.stringify(status)
    }
    response.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' }).end(text)
  })
  return new Promise((resolve) => relay.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`)))
}

/** The SDK's client (`createNovaKmsClient`) with `attestation`, or without it the runtime-style client that trusts `/status`. */
function sdk(attestation: NodeAttestationPolicy | undefined, reader: NovaAppRegistryReader = registry) {
  const common = { registry: reader, kmsAppId: 49, appId: app.appId, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom, sleep }
  return attestation === undefined ? createRuntimeKmsClient({ ...common, bindingVersion: 2 }) : createNovaKmsClient({ ...common, attestation })
}

async function discovered(url: string): Promise<DiscoveredKmsNode> {
  const node = (await discoverKmsNodes({ registry, kmsAppId: 49 })).find((candidate) => candidate.url === url)
  if (node === undefined) throw new Error(`discovery does not list ${url}`)
  return node
}

beforeAll(async () => {
  chain = await startDevChain()
  members = await startMiniflareCluster(chain, { size: 2, masterSecretHex: '4d'.repeat(32) })
  registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry }).novaAppRegistry
  app = await registerTestApp(chain)
  hidden = await startMiniflareNode(chain)
  relayUrl = await startLyingRelay(hidden)
  const { node: self } = await hidden.status()
  // Registered with the hidden node's real teePubkey, but under another wallet.
  await chain.registerInstance({ teeWalletAddress: impostorWallet, teePubkey: `0x${self.tee_pubkey}`, instanceUrl: relayUrl })
}, 300_000)

afterAll(async () => {
  for (const member of members ?? []) await member.node.stop()
  await hidden?.stop()
  await new Promise((resolve) => (relay === undefined ? resolve(undefined) : relay.close(resolve)))
  await chain?.stop()
})

describe('the SDK verifies each node by its attestation, not its /status', () => {
  it('behavior: a real node proves the registry identity: fresh nonce, dev root passed explicitly, wallet, key and measurement', async () => {
    for (const member of members) {
      const verdict = await verifyNodeAttestation({ node: await discovered(member.node.url), registry, kmsAppId: 49, fetch, random: cryptoRandom, clock: systemClock, policy: DEV_POLICY })
      expect(verdict).toEqual({ matches: true })
    }
  })

  it('error: the host relays a real node under another registered wallet: /status is made to agree, the document does not', async () => {
    const impostor = await discovered(relayUrl)
    expect(impostor.wallet).toBe(impostorWallet)
    const status = await (await fetch(`${relayUrl}/status`)).json()
    expect(checkNodeIdentity(status, impostor), "the runtime's /status check is fooled").toEqual({ matches: true })
    const verdict = await verifyNodeAttestation({ node: impostor, registry, kmsAppId: 49, fetch, random: cryptoRandom, clock: systemClock, policy: DEV_POLICY })
    expect(verdict).toEqual({ matches: false, reason: 'attestation: wallet mismatch' })
  })

  it('behavior: the SDK derives and stores through the verified nodes, and never sends an app request to the impostor', async () => {
    relayed.length = 0
    const { client } = sdk(DEV_POLICY)
    const key = await client.derive({ path: 'sdk/attested' })
    expect(key).toHaveLength(32)
    await client.kvPut('attested', new TextEncoder().encode('value'))
    const read = await client.kvGet('attested')
    expect(read.found && new TextDecoder().decode(read.value)).toBe('value')
    expect(relayed.filter((path) => path.startsWith('/kms/')), 'app requests reaching the impostor').toEqual([])
    expect(relayed.some((path) => path.startsWith('/attestation?nonce=')), 'the impostor was asked to prove itself').toBe(true)
    // The same key as a client that trusts /status derives from the honest nodes.
    const runtimeStyle = sdk(undefined).client
    expect(bytesToHex(await runtimeStyle.derive({ path: 'sdk/attested' }))).toBe(bytesToHex(key))
  })

  it('behavior: a derived key can come back as a non-extractable WebCrypto key, the same key as the bytes', async () => {
    const { client } = sdk(DEV_POLICY)
    const key = await client.deriveCryptoKey({ path: 'sdk/aes' }, { algorithm: { name: 'AES-GCM' }, usages: ['encrypt', 'decrypt'] })
    expect([key.extractable, key.algorithm.name, [...key.usages].sort()]).toEqual([false, 'AES-GCM', ['decrypt', 'encrypt']])
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow()
    const raw = await crypto.subtle.importKey('raw', new Uint8Array(await client.derive({ path: 'sdk/aes' })), { name: 'AES-GCM' }, false, ['encrypt'])
    const iv = new Uint8Array(12)
    const plaintext = new TextEncoder().encode('same key')
    const [fromCryptoKey, fromBytes] = await Promise.all([key, raw].map((k) => crypto.subtle.encrypt({ name: 'AES-GCM', iv }, k, plaintext)))
    expect(bytesToHex(new Uint8Array(fromCryptoKey!))).toBe(bytesToHex(new Uint8Array(fromBytes!)))
  })

  it('behavior: every call of the SDK: derive with epochs, list, delete, sign_cert, the CA, status, reachability', async () => {
    const { client } = sdk(DEV_POLICY)
    const pinned = await client.deriveWithEpoch({ path: 'sdk/epochs', epoch: { cluster: 0, app: 0 } })
    expect(pinned.epoch).toEqual({ cluster: 0, app: 0 })
    expect(bytesToHex(pinned.key)).toBe(bytesToHex(await client.derive({ path: 'sdk/epochs' })))
    await expect(client.deriveWithEpoch({ path: 'sdk/epochs', epoch: { cluster: 7 } })).rejects.toMatchObject({ code: 'bad_request' })

    await client.kvPut('listed', new TextEncoder().encode('x'))
    expect(await client.kvList()).toContain('listed')
    expect(await client.kvDelete('listed')).toEqual({ deleted: true })
    expect(await client.kvList()).not.toContain('listed')

    // OpenSSL checks the chain the SDK was given (DESIGN §5).
    const openssl = new Scratch()
    onTestFinished(() => openssl.remove())
    const issued = await client.signCert(openssl.csr('leaf', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], [], '/CN=sdk'))
    openssl.write('leaf.pem', issued.certificate)
    openssl.write('ca.pem', issued.caCertificate)
    expect(openssl.ok(['verify', '-CAfile', 'ca.pem', 'leaf.pem']).trim()).toBe('leaf.pem: OK')
    const ca = await client.caCertificate()
    expect(ca.pem.trim()).toBe(issued.caCertificate.trim())
    expect(ca.epoch).toBe(0)

    const { url, status } = await client.status()
    expect(members.map((member) => member.node.url)).toContain(url)
    expect((status['node'] as { service_available: boolean }).service_available).toBe(true)
    expect(await client.isReachable()).toBe(true)
  })

  it('error: isReachable never throws: no verified node, or no chain, is false', async () => {
    expect(await sdk({}).client.isReachable()).toBe(false)
    const deadChain = createChainReaders({ rpcUrl: 'http://127.0.0.1:9', novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry }).novaAppRegistry
    expect(await sdk(DEV_POLICY, deadChain).client.isReachable()).toBe(false)
  })

  it('error: production trusts only the AWS root: dev documents fail it, so the SDK has no node to call; debug documents need an explicit root', async () => {
    const { client } = sdk({})
    await expect(client.derive({ path: 'sdk/attested' })).rejects.toBeInstanceOf(KmsNodesUnavailableError)
    expect(() => sdk({ allowDebugMode: true })).toThrow('allowDebugMode needs an explicit trustedRoot: debug documents are never accepted under the AWS root')
  })

  it('behavior: a node killed mid-run: the SDK fails over to the other and every derive succeeds with the same key', async () => {
    const { client } = sdk(DEV_POLICY)
    const expected = bytesToHex(await client.derive({ path: 'sdk/failover' }))
    const results: string[] = []
    // The node the SDK tries first (candidates are in URL order) is the one that dies.
    const first = [...members].sort((left, right) => (left.node.url < right.node.url ? -1 : 1))[0]!
    const victim = members.splice(members.indexOf(first), 1)[0]!
    for (let index = 0; index < 12; index++) {
      if (index === 4) await victim.node.stop()
      results.push(bytesToHex(await client.derive({ path: 'sdk/failover' })))
    }
    expect(results).toEqual(Array.from({ length: 12 }, () => expected))
    expect(await client.isReachable()).toBe(true)
  })
})
