/**
 * An enclave-mode cluster on loopback (issue 13): anvil with the real contracts, three
 * `node dist/kms.mjs` processes with `IN_ENCLAVE=true`, each with its own
 * `node dist/nova-runtime.mjs` as its Odyn, https peer URLs on names only the egress proxy
 * resolves (a TLS terminator per node, certificates from a test CA), and an HTTP CONNECT
 * proxy as the enclave's only way out. The chain is reached at a loopback URL, as Helios is.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent, fetch as undiciFetch } from 'undici'
import { createPublicClient, http, type Address, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stopProcess } from '../../bundle/processes'
import { createNovaAppRegistryReader } from '../../core/chain/createNovaAppRegistryReader'
import { discoverKmsNodes, KmsClient, type DiscoveredKmsNode } from '../../core/client'
import { bytesToHex } from '../../core/encoding'
import { createOdynTee } from '../../core/tee/odynTee'
import { startConnectProxy, type ConnectProxy } from '../helpers/connectProxy'
import { startDevChain, type DevChain } from '../helpers/devChain'
import {
  assertBundleBuilt,
  cryptoRandom,
  nodeEnvironment,
  registerTestApp,
  startProcessNode,
  systemClock,
  type NodeStatus,
  type TestApp,
  type TestNode,
} from '../helpers/kmsNodes'
import { createLocalOdyn, type LocalOdyn } from '../helpers/localOdyn'
import { createTestCa, startCountingListener, startTlsTerminator, type CountingHttpServer, type TestCa, type TlsTerminator } from '../helpers/tlsIngress'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NAMES = ['node1.kms.test', 'node2.kms.test', 'node3.kms.test', 'node4.kms.test']

interface EnclaveMember {
  name: string
  odyn: LocalOdyn
  node: TestNode
  terminator: TlsTerminator
  /** `https://nodeN.kms.test:<terminator port>`, its registered instanceUrl. */
  url: string
}

let chain: DevChain
let ca: TestCa
let proxy: ConnectProxy
let plainListener: CountingHttpServer
const members: EnclaveMember[] = []

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls `/status` until `predicate` holds, at most `timeoutMs`. */
async function waitForStatus(node: TestNode, predicate: (status: NodeStatus) => boolean, timeoutMs = 60_000): Promise<NodeStatus> {
  const deadline = Date.now() + timeoutMs
  let status = await node.status()
  while (!predicate(status) && Date.now() < deadline) {
    await sleep(500)
    status = await node.status()
  }
  if (!predicate(status)) throw new Error(`condition not reached in ${timeoutMs} ms: ${JSON.stringify(status.node)}`)
  return status
}

function enclaveEnvironment(odynUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return nodeEnvironment(chain, {
    IN_ENCLAVE: 'true',
    LOG_LEVEL: 'ERROR',
    ODYN_URL: odynUrl,
    KMS_NODE_TICK_SECONDS: '1',
    DATA_SYNC_INTERVAL_SECONDS: '1',
    PEER_CACHE_TTL_SECONDS: '30',
    http_proxy: proxy.url,
    https_proxy: proxy.url,
    no_proxy: 'localhost,127.0.0.1',
    NODE_EXTRA_CA_CERTS: ca.caPath,
    ...extra,
  })
}

async function register(member: EnclaveMember): Promise<void> {
  await chain.fund(member.odyn.wallet as Address)
  await chain.registerInstance({
    teeWalletAddress: member.odyn.wallet as Address,
    teePubkey: `0x${bytesToHex(member.odyn.teeKey.publicKey.der)}` as Hex,
    instanceUrl: member.url,
    zkVerified: true,
  })
}

/** Runs `node dist/kms.mjs` to its exit (bounded), for the start-time refusals. */
function runNodeToExit(env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/kms.mjs'], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '', ...env, BIND_ADDR: '127.0.0.1:0' }, stdio: ['ignore', 'pipe', 'pipe'] })
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

/** A fetch that trusts the test CA and resolves each nodeN.kms.test to its terminator. */
function caFetch(): { fetch: typeof fetch; close(): Promise<void> } {
  const agent = new Agent({
    connect: {
      ca: ca.caPem,
      lookup: (hostname, options, callback) => {
        if (!NAMES.includes(hostname)) return callback(new Error(`unknown test host ${hostname}`), '', 4)
        // `all` lookups want an array (undici asks for one address).
        if ((options as { all?: boolean }).all === true) return (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }])
        return callback(null, '127.0.0.1', 4)
      },
    },
  })
  return {
    fetch: ((input: RequestInfo | URL, init?: RequestInit) => undiciFetch(input as never, { ...((init ?? {}) as object), dispatcher: agent } as never)) as unknown as typeof fetch,
    close: () => agent.close(),
  }
}

describe('enclave-mode cluster behind TLS and an egress proxy', () => {
  beforeAll(async () => {
    assertBundleBuilt()
    chain = await startDevChain()
    expect(new URL(chain.rpcUrl).hostname).toBe('127.0.0.1')
    ca = await createTestCa(NAMES)
    proxy = await startConnectProxy({ hosts: Object.fromEntries(NAMES.map((name) => [name, '127.0.0.1'])) })
    plainListener = await startCountingListener()
    for (let index = 0; index < 3; index++) {
      const odyn = await createLocalOdyn(101 + index)
      // Node 3's Odyn starts later: that node first runs with its helper unreachable.
      if (index < 2) await odyn.start()
      const node = await startProcessNode(chain, enclaveEnvironment(odyn.url))
      const terminator = await startTlsTerminator(ca.leaves.get(NAMES[index]!)!, Number(new URL(node.url).port))
      members.push({ name: NAMES[index]!, odyn, node, terminator, url: `https://${NAMES[index]}:${terminator.port}` })
    }
    // Node 1 alone first: it generates the secret and commits its hash.
    await register(members[0]!)
    await waitForStatus(members[0]!.node, (status) => status.node.service_available)
    await register(members[1]!)
    await register(members[2]!)
  })

  afterAll(async () => {
    for (const member of members) {
      await member.node.stop().catch(() => undefined)
      await member.terminator.stop().catch(() => undefined)
      await member.odyn.stop().catch(() => undefined)
    }
    await plainListener?.stop()
    await proxy?.stop()
    await chain?.stop()
    ca?.remove()
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
    expect((await tee.getAttestation({ nonce: cryptoRandom.bytes(32), publicKeyDer: publicKey, userData: { probe: 1 } })).length).toBeGreaterThan(0)
  })

  it('bootstraps on node 1, which generated the secret; node 2 joins by sealed ECDH through the proxy', async () => {
    const first = await members[0]!.node.status()
    expect(first.node.mode).toBe('enclave')
    expect(first.node.master_secret.state).toBe('generated')
    expect(first.node.tee_wallet.toLowerCase()).toBe(members[0]!.odyn.wallet.toLowerCase())
    const second = await waitForStatus(members[1]!.node, (status) => status.node.service_available)
    expect(second.node.master_secret.state).toBe('synced')
    expect(second.node.master_secret.synced_from).toBe(members[0]!.url)
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
  })

  it('an app with PoP derives the same key on every node, and a PUT on node 1 is read on node 3', async () => {
    const app: TestApp = await registerTestApp(chain)
    const registry = createNovaAppRegistryReader({ client: createPublicClient({ transport: http(chain.rpcUrl) }), address: chain.addresses.novaAppRegistry })
    const discovered: DiscoveredKmsNode[] = await discoverKmsNodes({ registry, kmsAppId: chain.addresses.kmsAppId })
    const https = caFetch()
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
    const stranger = await createLocalOdyn(199)
    await chain.registerInstance({
      teeWalletAddress: stranger.wallet as Address,
      teePubkey: `0x${bytesToHex(stranger.teeKey.publicKey.der)}` as Hex,
      instanceUrl: `http://${NAMES[3]}:${plainListener.port}`,
      zkVerified: true,
    })
    // On-chain it is a usable KMS instance (ACTIVE, zkVerified, enrolled version, a teePubkey):
    // only its scheme keeps it out of an enclave node's peer cache.
    const registry = createNovaAppRegistryReader({ client: createPublicClient({ transport: http(chain.rpcUrl) }), address: chain.addresses.novaAppRegistry })
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

  it.each(['NITRO_ROOT_CERT_PEM', 'NODE_PRIVATE_KEY', 'MASTER_SECRET_HEX'])('%s is refused at start in enclave mode (exit 1, naming it)', async (name) => {
    const value = name === 'NITRO_ROOT_CERT_PEM' ? ca.caPem : `0x${'11'.repeat(32)}`
    const result = await runNodeToExit(enclaveEnvironment(members[0]!.odyn.url, { [name]: value }))
    expect(result.code).toBe(1)
    expect(`${result.stderr}${result.stdout}`).toContain(name)
  })
})
