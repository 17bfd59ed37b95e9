/**
 * `RuntimeKmsClient.nodes()` (PROTOCOL §2.2): a verified node's unsigned peer list, its shape
 * checked, each entry compared with the SDK's own registry read, and a node whose answer is
 * not a §2.2 list passed over for the next verified node.
 */
import { describe, expect, test } from 'vitest'
import { KmsNodesUnavailableError, RuntimeKmsClient, type DiscoveredKmsNode } from '../../../core/client'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { webCryptoRandom as random } from '../../../functions/_runtime'

const clock = { nowMs: () => 1_750_000_000_000 }
const wallet = (): Wallet => privateKeyToWallet(generateWalletPrivateKey(random))

async function node(url: string): Promise<DiscoveredKmsNode> {
  return { url, wallet: wallet(), teePubkeyDer: (await generateP384PrivateKey(random)).publicKey.der, instanceId: 1 }
}

/** A §2.2 entry for `peer`, as functions/nodes.ts writes it. */
function entry(peer: { url: string; wallet: Wallet }, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    operator: peer.wallet,
    instance: {
      instance_id: 7,
      app_id: 49,
      version_id: 1,
      operator: '0x00000000000000000000000000000000000000aa',
      instance_url: peer.url,
      tee_wallet: peer.wallet,
      zk_verified: true,
      instance_status: { value: 0, name: 'ACTIVE' },
      registered_at: 1,
      ...overrides,
    },
    connection: { in_peer_cache: true, cached_status: 'ACTIVE', status_endpoint_reachable: null, status_endpoint_http_code: null, status_probe_ms: null, status_checked_at_ms: null },
  }
}

async function clientOver(verified: DiscoveredKmsNode[], answers: Record<string, unknown>): Promise<RuntimeKmsClient> {
  const directory = {
    nodes: async () => verified,
    verifiedNodes: async () => verified,
    candidates: async () => verified,
    invalidateIdentity: () => undefined,
    markUnreachable: () => undefined,
  }
  const fetch = async (input: RequestInfo | URL): Promise<Response> => {
    const url = String(input)
    const body = answers[url]
    return body === undefined ? new Response('{}', { status: 503 }) : new Response(typeof body === 'string' ? body : JSON.stringify(body))
  }
  return new RuntimeKmsClient({
    directory,
    authorize: async () => ({ appId: 1, instanceId: 1, registryAppWallet: wallet() }),
    walletKey: generateWalletPrivateKey(random),
    teeKey: await generateP384PrivateKey(random),
    clock,
    random,
    sleep: async () => undefined,
    fetch,
  })
}

describe('RuntimeKmsClient.nodes', () => {
  test('behavior: the first verified node\'s list, each entry marked by whether the registry lists that wallet at that URL', async () => {
    const [a, b] = [await node('http://a.test'), await node('http://b.test')]
    const stranger = { url: 'http://c.test', wallet: wallet() }
    const body = { operators: [entry(a), entry(b, { instance_status: { value: 1, name: 'NON_ACTIVE' } }), entry(stranger), entry({ url: a.url, wallet: b.wallet })], count: 4 }
    const listed = await (await clientOver([a, b], { 'http://a.test/nodes': body })).nodes()
    expect(listed.url).toBe('http://a.test')
    expect(listed.nodes.map((peer) => [peer.url, peer.wallet, peer.active, peer.inRegistry, peer.reachable])).toEqual([
      [a.url, a.wallet, true, true, null],
      [b.url, b.wallet, false, true, null],
      [stranger.url, stranger.wallet, true, false, null],
      [a.url, b.wallet, true, false, null],
    ])
    expect(listed.nodes[0]).toMatchObject({ instanceId: 7, operator: '0x00000000000000000000000000000000000000aa', zkVerified: true })
  })

  test('behavior: an answer that is not a §2.2 list (count off, an entry without a wallet, not JSON, a 503) moves on to the next verified node', async () => {
    const [a, b, c, d, e] = await Promise.all(['http://a.test', 'http://b.test', 'http://c.test', 'http://d.test', 'http://e.test'].map(node))
    const answers = {
      'http://a.test/nodes': { operators: [entry(a!)], count: 2 },
      'http://b.test/nodes': { operators: [entry(b!, { tee_wallet: 'nope' })], count: 1 },
      'http://c.test/nodes': 'not json',
      'http://e.test/nodes': { operators: [entry(e!)], count: 1 },
    }
    const listed = await (await clientOver([a!, b!, c!, d!, e!], answers)).nodes()
    expect(listed.url).toBe('http://e.test')
    expect(listed.nodes.map((peer) => peer.inRegistry)).toEqual([true])
  })

  test('error: no verified node gives a list: KmsNodesUnavailableError naming each node\'s reason', async () => {
    const [a, b] = [await node('http://a.test'), await node('http://b.test')]
    const error = await (await clientOver([a, b], { 'http://a.test/nodes': { operators: 'x', count: 1 } })).nodes().catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsNodesUnavailableError)
    expect((error as KmsNodesUnavailableError).failures).toEqual([
      { url: 'http://a.test', reason: 'answer is not a §2.2 node list' },
      { url: 'http://b.test', reason: 'node answered HTTP 503' },
    ])
  })
})
