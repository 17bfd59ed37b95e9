/**
 * The outbound proxy of `node dist/kms.mjs` (issue 13, RUNTIME.md §3): inside the enclave
 * every outbound connection goes through the runtime's egress proxy, named by `http_proxy`,
 * `https_proxy` and `no_proxy`. The Node entry sets undici's `EnvHttpProxyAgent` as the global
 * dispatcher; loopback (Odyn, Helios) is never proxied. Shown on loopback only: a forward
 * proxy that alone resolves `peer1.kms.test` and `chain.kms.test`, anvil on 127.0.0.1, and a
 * peer on 127.0.0.2 that `no_proxy` names. The same bundle still loads in Miniflare.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { outboundProxySettings } from '../../bundle/node'
import { LOOPBACK, spawnKmsNode, waitUntil, type KmsNodeProcess } from '../../bundle/processes'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import { startConnectProxy, type ConnectProxy } from '../helpers/connectProxy'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { assertBundleBuilt, cryptoRandom, nodeEnvironment, registerKmsNode, startMiniflareNode, type NodeStatus, type TestNode } from '../helpers/kmsNodes'

/** A stand-in peer: logs each request's Host and path, and answers 404, so the node's pull fails fast. */
interface FakePeer {
  port: number
  requests: { host: string; path: string }[]
  stop(): Promise<void>
}

async function startFakePeer(host: string): Promise<FakePeer> {
  const requests: FakePeer['requests'] = []
  const server: Server = createServer((request, response) => {
    requests.push({ host: request.headers.host ?? '', path: request.url ?? '' })
    response.writeHead(404, { 'content-type': 'application/json', connection: 'close' }).end('{"code":"not_found","message":"fake peer"}')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, () => resolve())
  })
  const address = server.address()
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    requests,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** Registers an ACTIVE KMS instance at `url` with a fresh wallet and P-384 key (nobody answers as it). */
async function registerPeer(chain: DevChain, url: string): Promise<void> {
  const wallet = privateKeyToWallet(generateWalletPrivateKey(cryptoRandom))
  const key = await generateP384PrivateKey(cryptoRandom)
  await chain.registerInstance({ teeWalletAddress: wallet, teePubkey: `0x${bytesToHex(key.publicKey.der)}`, instanceUrl: url })
}

/** `node dist/kms.mjs` with `env`, its output kept; a TestNode view for the helpers. */
async function startNode(env: Record<string, string>): Promise<{ process: KmsNodeProcess; node: TestNode; output: string[] }> {
  assertBundleBuilt()
  const output: string[] = []
  const child = await spawnKmsNode({ env, onOutput: (line) => output.push(line) })
  const fetcher = (path: string, init?: RequestInit): Promise<Response> => fetch(`${child.url}${path}`, init)
  const node: TestNode = {
    kind: 'process',
    pid: child.pid,
    url: child.url,
    fetch: fetcher,
    tick: async () => undefined,
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: child.stop,
  }
  return { process: child, node, output }
}

const hostOf = (target: string): string => target.replace(/:\d+$/, '')
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

let chain: DevChain
let proxy: ConnectProxy
const stops: (() => Promise<void>)[] = []

beforeAll(async () => {
  chain = await startDevChain()
  proxy = await startConnectProxy({ hosts: { 'peer1.kms.test': LOOPBACK, 'chain.kms.test': LOOPBACK } })
})

afterAll(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined)
  await proxy?.stop()
  await chain?.stop()
})

describe('outboundProxySettings', () => {
  it('behavior: lower case first, upper case otherwise; loopback is always added to no_proxy', () => {
    expect(outboundProxySettings({ http_proxy: 'http://127.0.0.1:10000', https_proxy: 'http://127.0.0.1:10000', no_proxy: 'localhost,127.0.0.1' })).toEqual({
      httpProxy: 'http://127.0.0.1:10000',
      httpsProxy: 'http://127.0.0.1:10000',
      noProxy: 'localhost,127.0.0.1,[::1]',
    })
    expect(outboundProxySettings({ HTTP_PROXY: 'http://proxy:1', http_proxy: 'http://proxy:2', HTTPS_PROXY: 'http://proxy:3', NO_PROXY: '.example.org' })).toEqual({
      httpProxy: 'http://proxy:2',
      httpsProxy: 'http://proxy:3',
      noProxy: '.example.org,localhost,127.0.0.1,[::1]',
    })
    // An empty lower-case variable does not hide the upper-case one; a missing no_proxy still keeps loopback direct.
    expect(outboundProxySettings({ https_proxy: '', HTTPS_PROXY: 'http://proxy:3' })).toEqual({ httpProxy: undefined, httpsProxy: 'http://proxy:3', noProxy: 'localhost,127.0.0.1,[::1]' })
  })

  it('behavior: no proxy set, or no_proxy=*, keeps Node\'s own dispatcher', () => {
    expect(outboundProxySettings({})).toBeUndefined()
    expect(outboundProxySettings({ no_proxy: 'example.org' })).toBeUndefined()
    expect(outboundProxySettings({ http_proxy: 'http://proxy:1', no_proxy: '*' })).toBeUndefined()
  })

  it('error: a proxy that is not an http(s) URL names its variable', () => {
    expect(() => outboundProxySettings({ https_proxy: 'proxy:10000' })).toThrow(/^https_proxy must be an http\(s\) URL/)
    expect(() => outboundProxySettings({ HTTP_PROXY: 'socks5://127.0.0.1:1080' })).toThrow(/^HTTP_PROXY must be an http\(s\) URL/)
  })
})

describe('node dist/kms.mjs behind a forward proxy', () => {
  it('behavior: a peer is reached through the proxy, a no_proxy peer and the loopback chain RPC directly', async () => {
    const proxiedPeer = await startFakePeer(LOOPBACK)
    stops.push(proxiedPeer.stop)
    // 127.0.0.2 is loopback on Linux but not in the always-direct list: only no_proxy keeps it direct.
    const directPeer = await startFakePeer('127.0.0.2')
    stops.push(directPeer.stop)
    const logStart = proxy.log.length

    const { node, output } = await startNode(
      nodeEnvironment(chain, {
        LOG_LEVEL: 'INFO',
        KMS_NODE_TICK_SECONDS: '1',
        http_proxy: proxy.url,
        https_proxy: proxy.url,
        // Not the runtime's localhost,127.0.0.1: loopback must stay direct without it.
        no_proxy: '127.0.0.2',
      }),
    )
    stops.push(node.stop)
    expect(output.join('\n')).toContain('"msg":"outbound proxy"')

    await registerKmsNode(chain, node)
    const peerUrl = `http://peer1.kms.test:${proxiedPeer.port}`
    await registerPeer(chain, peerUrl)
    await registerPeer(chain, `http://127.0.0.2:${directPeer.port}`)

    // Once its secret is committed, every tick pulls a cold-start snapshot from each peer (§7.1 step 8), /nonce first.
    await waitUntil('both peers to be asked for a nonce', () => proxiedPeer.requests.length > 0 && directPeer.requests.length > 0, { timeoutMs: 60_000, intervalMs: 200 })
    const status = await node.status()
    // Reading the registry and committing the secret needed the chain: it was reached.
    expect(status.node.master_secret.state).toBe('generated')

    expect(proxiedPeer.requests[0]).toEqual({ host: `peer1.kms.test:${proxiedPeer.port}`, path: '/nonce' })
    expect(directPeer.requests[0]!.path).toBe('/nonce')
    const entries = proxy.log.slice(logStart)
    // undici tunnels http targets too (CONNECT), as the runtime's egress proxy expects.
    expect(entries).toContainEqual({ kind: 'connect', target: `peer1.kms.test:${proxiedPeer.port}`, forwarded: true })
    const hosts = new Set(entries.map((entry) => hostOf(entry.target)))
    expect([...hosts]).toEqual(['peer1.kms.test'])
    for (const host of LOOPBACK_HOSTS) expect(hosts.has(host)).toBe(false)
    expect(hosts.has('127.0.0.2')).toBe(false)
    // The proxied peer's 404 came back through the tunnel to the node.
    await waitUntil('the node to log the proxied peer\'s answer', () => output.some((line) => line.includes(peerUrl) && line.includes('404')), { timeoutMs: 10_000 })
  })

  it('behavior: a chain RPC that is not loopback goes through the proxy (upper-case variables)', async () => {
    const logStart = proxy.log.length
    const rpcPort = new URL(chain.rpcUrl).port
    const { node } = await startNode(
      nodeEnvironment(chain, {
        KMS_NODE_TICK_SECONDS: '1',
        NODE_URL: `http://chain.kms.test:${rpcPort}`,
        HTTP_PROXY: proxy.url,
        HTTPS_PROXY: proxy.url,
      }),
    )
    stops.push(node.stop)
    // Unregistered, the node stops at step 3: it read the peer list, which only the proxy could fetch.
    const status = await waitUntil('the registry read through the proxy', async () => {
      const current = await node.status()
      return current.node.unavailable_reason === 'self not in KMS node list' ? current : undefined
    }, { timeoutMs: 30_000, intervalMs: 200 })
    expect(status.node.is_operator).toBe(false)
    expect(proxy.log.slice(logStart)).toContainEqual({ kind: 'connect', target: `chain.kms.test:${rpcPort}`, forwarded: true })
  })
})

describe('the same dist/kms.mjs in Miniflare', () => {
  it('behavior: workerd loads the bundle with undici in it, answers /health and runs a tick', async () => {
    const node = await startMiniflareNode(chain)
    stops.push(node.stop)
    const health = await node.fetch('/health')
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'healthy' })
    await node.tick('node_tick')
    expect((await node.status()).node.unavailable_reason).toBe('self not in KMS node list')
  })
})
