/**
 * An enclave-mode cluster on loopback (issue 13): anvil with the real contracts, three
 * `node dist/kms-test.mjs` processes with `IN_ENCLAVE=true`, each with its own
 * `node dist/nova-runtime.mjs` as its Odyn, https peer URLs on names only the egress proxy
 * resolves (a TLS terminator per node, certificates from a test CA), and an HTTP CONNECT
 * proxy as the enclave's only way out. The chain is reached at a loopback URL, as Helios is.
 *
 * The test build, because peer attestation (PROTOCOL §4.5) makes `dist/kms.mjs` in enclave
 * mode trust only the AWS root, which no document made on this machine chains to
 * (productionRefusesDevRoot.test.ts shows that refusal). The test build trusts the dev root
 * and still refuses debug documents, so every Odyn issues non-zero PCRs and the nodes
 * register under KMS version 2, enrolled with their measurement (_enclaveCluster.ts): every
 * secret moves here only after both sides' documents passed.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopProcess } from '../../bundle/processes'
import { createRpcClient } from '../../core/chain/_rpcClient'
import { createNovaAppRegistryReader } from '../../core/chain/createNovaAppRegistryReader'
import { discoverKmsNodes, KmsClient, type DiscoveredKmsNode } from '../../core/client'
import { codeMeasurement, verifyNitroAttestation } from '../../core/attestation'
import { bytesToHex } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { createOdynTee } from '../../core/tee/odynTee'
import { assertBundleBuilt, cryptoRandom, registerTestApp, systemClock, type TestApp } from '../helpers/kmsNodes'
import { createLocalOdyn } from '../helpers/localOdyn'
import { startCountingListener, type CountingHttpServer } from '../helpers/tlsIngress'
import {
  caFetch,
  ENCLAVE_TEST_MEASUREMENT,
  KMS_BUNDLE,
  KMS_TEST_BUNDLE,
  peerAttestationCount,
  registerMember,
  sleep,
  startEnclaveMember,
  startEnclaveNetwork,
  waitForStatus,
  type EnclaveMember,
  type EnclaveNetwork,
} from './_enclaveCluster'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NAMES = ['node1.kms.test', 'node2.kms.test', 'node3.kms.test', 'node4.kms.test']

let network: EnclaveNetwork
let plainListener: CountingHttpServer
const members: EnclaveMember[] = []

/** Runs `node <bundle>` to its exit (bounded), for the start-time refusals. */
function runNodeToExit(bundlePath: string, env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundlePath], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env, BIND_ADDR: '127.0.0.1:0' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => void stopProcess(child), 15_000)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stderr, stdout })
    })
  })
}

describe('enclave-mode cluster behind TLS and an egress proxy', () => {
  beforeAll(async () => {
    for (const bundle of [KMS_TEST_BUNDLE, KMS_BUNDLE]) assertBundleBuilt(bundle)
    network = await startEnclaveNetwork(NAMES)
    expect(new URL(network.chain.rpcUrl).hostname).toBe('127.0.0.1')
    plainListener = await startCountingListener()
    for (let index = 0; index < 3; index++) {
      // Node 3's Odyn starts later: that node first runs with its helper unreachable.
      members.push(await startEnclaveMember(network, NAMES[index]!, { appId: 101 + index, bundlePath: KMS_TEST_BUNDLE, startOdyn: index < 2 }))
    }
    // Node 1 alone first: it generates the secret and commits its hash.
    await registerMember(network.chain, members[0]!)
    await waitForStatus(members[0]!.node, (status) => status.node.service_available)
    await registerMember(network.chain, members[1]!)
    await registerMember(network.chain, members[2]!)
  })

  afterAll(async () => {
    for (const member of members) await member.stop()
    await plainListener?.stop()
    await network?.stop()
  })

  it("the node's Odyn client and the runtime API agree on every call it makes", async () => {
    const odyn = members[0]!.odyn
    const tee = createOdynTee({ baseUrl: odyn.url, fetch: (url, init) => fetch(url, init) })
    expect(await tee.getWallet()).toBe(odyn.wallet)
    expect(await tee.signMessage('hello')).toMatch(/^0x[0-9a-f]{130}$/)
    const raw = await tee.signTransaction({ chainId: 31337, nonce: 0, maxPriorityFeePerGas: 1n, maxFeePerGas: 2_000_000_000n, gas: 100_000n, to: `0x${'11'.repeat(20)}`, value: 0n, data: '0x1234' })
    expect(raw).toMatch(/^0x02/)
    expect((await tee.randomBytes()).length).toBe(32)
    const publicKey = await tee.getEncryptionPublicKey()
    expect(bytesToHex(publicKey)).toBe(bytesToHex(odyn.teeKey.publicKey.der))
    expect(await tee.decrypt(await tee.encrypt('sealed text', publicKey))).toBe('sealed text')
    // A dev-root document with the test PCRs, which a verifier refusing debug mode accepts.
    const document = await verifyNitroAttestation(await tee.getAttestation({ nonce: cryptoRandom.bytes(32), publicKeyDer: publicKey, userData: { probe: 1 } }), { at: Date.now(), trustedRoot: devRootCertificateDer() })
    expect(`0x${bytesToHex(codeMeasurement(document.pcrs))}`).toBe(ENCLAVE_TEST_MEASUREMENT)
  })

  it('bootstraps on node 1, which generated the secret; node 2 joins by sealed ECDH through the proxy', async () => {
    const first = await members[0]!.node.status()
    expect(first.node.mode).toBe('enclave')
    expect(first.node.master_secret.state).toBe('generated')
    expect(first.node.tee_wallet.toLowerCase()).toBe(members[0]!.odyn.wallet.toLowerCase())
    const second = await waitForStatus(members[1]!.node, (status) => status.node.service_available)
    expect(second.node.master_secret.state).toBe('synced')
    expect(second.node.master_secret.synced_from).toBe(members[0]!.url)
    // Both documents passed before the secret moved (§4.5): node 2 checked node 1's, node 1 node 2's.
    expect(await peerAttestationCount(members[1]!.node, 'responder', 'ok')).toBeGreaterThanOrEqual(1)
    expect(await peerAttestationCount(members[0]!.node, 'requester', 'ok')).toBeGreaterThanOrEqual(1)
  })

  it("a node whose Odyn is unreachable stays unavailable with 'cannot read node wallet', and recovers once it runs", async () => {
    const third = members[2]!
    const down = await waitForStatus(third.node, (status) => status.node.unavailable_reason !== 'initializing', 30_000)
    expect(down.node.service_available).toBe(false)
    expect(down.node.unavailable_reason).toBe('cannot read node wallet')
    await sleep(3000)
    expect((await third.node.status()).node.unavailable_reason).toBe('cannot read node wallet')
    await third.odyn.start()
    const up = await waitForStatus(third.node, (status) => status.node.service_available, 90_000)
    expect(up.node.tee_wallet.toLowerCase()).toBe(third.odyn.wallet.toLowerCase())
    expect(up.node.master_secret.state).toBe('synced')
    expect(await peerAttestationCount(third.node, 'responder', 'ok')).toBeGreaterThanOrEqual(1)
    // Node 1 served node 2, and node 1 or node 2 served node 3, each after checking its document;
    // no document was refused anywhere.
    const served = await Promise.all(members.slice(0, 2).map((member) => peerAttestationCount(member.node, 'requester', 'ok')))
    expect(served[0]! + served[1]!).toBeGreaterThanOrEqual(2)
    for (const member of members) expect((await (await member.node.fetch('/metrics')).text()).match(/^nova_kms_peer_attestations_total\{verified="\w+",result="(?!ok")/m)).toBeNull()
  })

  it('an app with PoP derives the same key on every node, and a PUT on node 1 is read on node 3', async () => {
    const { chain } = network
    const app: TestApp = await registerTestApp(chain)
    const registry = createNovaAppRegistryReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: chain.addresses.novaAppRegistry })
    const discovered: DiscoveredKmsNode[] = await discoverKmsNodes({ registry, kmsAppId: chain.addresses.kmsAppId })
    const https = caFetch(network)
    try {
      const clients = members.map((member) => {
        const identity = discovered.find((node) => node.url === member.url)
        if (identity === undefined) throw new Error(`${member.url} is not in the registry`)
        return new KmsClient({
          node: { url: identity.url, wallet: identity.wallet, teePubkeyDer: identity.teePubkeyDer },
          walletKey: app.walletKey,
          teeKey: app.teeKey,
          clock: systemClock,
          random: cryptoRandom,
          fetch: https.fetch,
        })
      })
      const keys = await Promise.all(clients.map(async (client) => bytesToHex((await client.derive({ path: 'enclave/test', length: 32 })).key)))
      expect(keys[0]).toMatch(/^[0-9a-f]{64}$/)
      expect(new Set(keys).size).toBe(1)
      const value = cryptoRandom.bytes(40)
      await clients[0]!.putData('replicated', value)
      const deadline = Date.now() + 20_000
      let read: Uint8Array | undefined
      while (read === undefined && Date.now() < deadline) {
        read = await clients[2]!.getData('replicated').then((answer) => answer.value, () => undefined)
        if (read === undefined) await sleep(500)
      }
      expect(read === undefined ? undefined : bytesToHex(read)).toBe(bytesToHex(value))
    } finally {
      await https.close()
    }
  })

  it('a plain-http peer URL is refused: the peer cache drops it and it never receives a request', async () => {
    const { chain, proxy } = network
    const stranger = await createLocalOdyn(199)
    await chain.registerInstance({
      teeWalletAddress: stranger.wallet as Address,
      teePubkey: `0x${bytesToHex(stranger.teeKey.publicKey.der)}` as Hex,
      instanceUrl: `http://${NAMES[3]}:${plainListener.port}`,
      zkVerified: true,
    })
    // On-chain it is a usable KMS instance (ACTIVE, zkVerified, enrolled version, a teePubkey):
    // only its scheme keeps it out of an enclave node's peer cache.
    const registry = createNovaAppRegistryReader({ rpc: createRpcClient({ rpcUrl: chain.rpcUrl }), address: chain.addresses.novaAppRegistry })
    const discovered = await discoverKmsNodes({ registry, kmsAppId: chain.addresses.kmsAppId })
    expect(discovered.map((node) => node.url)).toContain(`http://${NAMES[3]}:${plainListener.port}`)
    // Several node ticks (1 s) refresh every peer cache with the fourth instance on-chain.
    await sleep(5000)
    for (const member of members) {
      const listed = (await (await member.node.fetch('/nodes')).json()) as { count: number }
      expect(listed.count).toBe(3)
      expect((await member.node.status()).node.service_available).toBe(true)
    }
    expect(plainListener.hits).toBe(0)
    expect(proxy.log.some((entry) => entry.target.startsWith(NAMES[3]!))).toBe(false)
  })

  it('every peer request went through the proxy, to nodeN.kms.test only, and nothing else did', () => {
    const { proxy } = network
    const targets = new Set(proxy.log.map((entry) => entry.target))
    const expected = new Set(members.map((member) => `${member.name}:${member.terminator.port}`))
    expect(proxy.log.length).toBeGreaterThan(0)
    expect(proxy.log.every((entry) => entry.kind === 'connect' && entry.forwarded)).toBe(true)
    expect([...targets].every((target) => expected.has(target))).toBe(true)
    // Each node was reached as a peer, through its own name.
    expect([...targets].sort()).toEqual([...expected].sort())
    // The terminators saw TLS connections only from tunnels (the test's own client used them too).
    for (const member of members) expect(member.terminator.connections).toBeGreaterThan(0)
  })

  it.each([KMS_TEST_BUNDLE, KMS_BUNDLE].flatMap((bundle) => ['NITRO_ROOT_CERT_PEM', 'NODE_PRIVATE_KEY', 'MASTER_SECRET_HEX'].map((name) => [bundle, name])))(
    '%s: %s is refused at start in enclave mode (exit 1, naming it)',
    async (bundle, name) => {
      const value = name === 'NITRO_ROOT_CERT_PEM' ? network.ca.caPem : `0x${'11'.repeat(32)}`
      const result = await runNodeToExit(bundle, network.environment(members[0]!.odyn.url, { [name]: value }))
      expect(result.code).toBe(1)
      expect(`${result.stderr}${result.stdout}`).toContain(name)
    },
  )
})
