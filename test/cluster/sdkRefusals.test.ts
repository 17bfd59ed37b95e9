/**
 * The SDK refuses what the host answers in a node's name (issue 17 item 7, PROTOCOL §3.5):
 * a wrong response binding and a replayed answer, through `createNovaKmsClient` itself, so
 * with discovery from NovaAppRegistry on anvil and every node attestation-verified. Each of
 * the two nodes (`dist/kms.mjs` in Miniflare) is registered at the URL of an itty-router
 * relay in front of it (test/helpers/relay.ts), as the host that terminates TLS would be.
 * The relays pass `/attestation` through untouched, so both nodes prove themselves and stay
 * candidates; only `/kms/*` answers are rewritten, so what the SDK refuses is the binding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainReaders, type NovaAppRegistryReader } from '../../core/chain'
import { createNovaKmsClient, KmsClientError, KmsNodesUnavailableError, NovaKmsError, type NodeAttestationPolicy } from '../../core/client'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, systemClock, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { answerHeaders, replayOf, startRelay, type Exchange, type Relay, type Tamper } from '../helpers/relay'

const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds))
const DEV_POLICY: NodeAttestationPolicy = { trustedRoot: devRootCertificateDer(), allowDebugMode: true }
const BINDING_REFUSED = 'answer binding does not verify against the node wallet'
const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** A node, the relay registered as its URL, and its wallet. */
interface RelayedNode {
  node: TestNode
  relay: Relay
  wallet: Wallet
}

let chain: DevChain
let registry: NovaAppRegistryReader
let app: TestApp
/** The node the SDK tries first (candidates are in URL order), whose relay tampers. */
let hostile: RelayedNode
/** The other node, which the SDK must fail over to. */
let honest: RelayedNode

async function startRelayedNode(overrides: Record<string, string> = {}): Promise<RelayedNode> {
  const node = await startMiniflareNode(chain, overrides)
  const relay = await startRelay(node.url)
  const { wallet } = await registerKmsNode(chain, node, { instanceUrl: relay.url })
  return { node, relay, wallet }
}

function sdk() {
  return createNovaKmsClient({
    registry,
    kmsAppId: chain.addresses.kmsAppId,
    appId: app.appId,
    walletKey: app.walletKey,
    teeKey: app.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    sleep,
    attestation: DEV_POLICY,
  })
}

function exchanges(at: RelayedNode, method: string, path: string): Exchange[] {
  return at.relay.exchanges.filter((exchange) => exchange.method === method && exchange.path === path)
}

const attestationRequests = (at: RelayedNode): number => at.relay.exchanges.filter((exchange) => exchange.path.startsWith('/attestation?nonce=')).length

/** Every `/kms/*` answer goes out with `binding`: a real signature of the node, over another answer. */
function rebind(binding: string): Tamper {
  return async (request, forward) => {
    if (!request.path.startsWith('/kms/')) return undefined
    const exchange = await forward()
    const headers = answerHeaders(exchange.responseHeaders)
    headers.set('x-kms-response-binding', binding)
    return new Response(exchange.responseBody.slice(), { status: exchange.status, headers })
  }
}

/** The binding header of the latest `/kms/*` answer `at` relayed. */
function latestBinding(at: RelayedNode): string {
  const binding = [...at.relay.exchanges].reverse().find((exchange) => exchange.path.startsWith('/kms/'))?.responseHeaders.get('x-kms-response-binding')
  if (binding === null || binding === undefined) throw new Error(`no bound /kms/* answer recorded at ${at.relay.url}`)
  return binding
}

/** The rejection of `run`, which must be the SDK's `KmsNodesUnavailableError`. */
async function unavailable(run: () => Promise<unknown>): Promise<KmsNodesUnavailableError> {
  const error = await run().then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(error).toBeInstanceOf(KmsNodesUnavailableError)
  return error as KmsNodesUnavailableError
}

/** Both nodes hold `key` = `value`, read directly from each node with the in-repo single-node client. */
async function valueOnEachNode(key: string): Promise<string[]> {
  return Promise.all([hostile, honest].map(async ({ node }) => decode((await (await app.client(node)).getData(key)).value)))
}

beforeAll(async () => {
  chain = await startDevChain()
  const first = await startRelayedNode({ MASTER_SECRET_HEX: '5e'.repeat(32) })
  await tickUntil(first.node, (status) => status.node.service_available)
  const second = await startRelayedNode()
  // The first node must list the newcomer in its peer cache before it hands over the secret.
  await first.node.tick('node_tick')
  await tickUntil(second.node, (status) => status.node.service_available)
  for (const { node } of [first, second]) await node.tick('node_tick')
  ;[hostile, honest] = [first, second].sort((left, right) => (left.relay.url < right.relay.url ? -1 : 1)) as [RelayedNode, RelayedNode]
  registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry }).novaAppRegistry
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  for (const member of [hostile, honest]) {
    await member?.relay.close()
    await member?.node.stop()
  }
  await chain?.stop()
})

describe('the relays are transparent until they tamper', () => {
  it('behavior: both relayed nodes prove the registry identity by attestation, and the first one serves the SDK', async () => {
    for (const member of [hostile, honest]) member.relay.tamper = undefined
    const { client, directory } = sdk()
    const verified = await directory.verifiedNodes()
    expect(verified.map((node) => [node.url, node.wallet])).toEqual([
      [hostile.relay.url, hostile.wallet],
      [honest.relay.url, honest.wallet],
    ])
    expect(attestationRequests(hostile)).toBeGreaterThan(0)
    expect(attestationRequests(honest)).toBeGreaterThan(0)
    const key = await client.derive({ path: 'refusals/key' })
    expect(bytesToHex(key)).toBe(bytesToHex((await (await app.client(honest.node)).derive({ path: 'refusals/key' })).key))
    expect(exchanges(hostile, 'POST', '/kms/derive')).toHaveLength(1)
    expect(exchanges(honest, 'POST', '/kms/derive')).toHaveLength(0)
  })
})

describe('a wrong response binding', () => {
  it('error: the node\'s own signature over another answer is refused; the SDK re-attests that node and moves on to the other', async () => {
    const expected = bytesToHex((await (await app.client(honest.node)).derive({ path: 'refusals/rebound' })).key)
    const { client } = sdk()
    await client.derive({ path: 'refusals/earlier' })
    hostile.relay.tamper = rebind(latestBinding(hostile))
    try {
      const derivesBefore = { hostile: exchanges(hostile, 'POST', '/kms/derive').length, honest: exchanges(honest, 'POST', '/kms/derive').length }
      expect(bytesToHex(await client.derive({ path: 'refusals/rebound' }))).toBe(expected)
      // The hostile node was asked, and its rebound answer refused; the honest one then answered.
      expect(exchanges(hostile, 'POST', '/kms/derive').length - derivesBefore.hostile).toBe(1)
      expect(exchanges(honest, 'POST', '/kms/derive').length - derivesBefore.honest).toBe(1)

      // The refusal invalidated the node's identity: the next call attests it again, it passes
      // (the refusal was the binding, not the attestation), is tried again, and refused again.
      const attestedBefore = attestationRequests(hostile)
      expect(bytesToHex(await client.derive({ path: 'refusals/rebound' }))).toBe(expected)
      expect(attestationRequests(hostile)).toBe(attestedBefore + 1)
      expect(exchanges(hostile, 'POST', '/kms/derive').length - derivesBefore.hostile).toBe(2)
      expect(exchanges(honest, 'POST', '/kms/derive').length - derivesBefore.honest).toBe(2)
    } finally {
      hostile.relay.tamper = undefined
    }
  })

  it('error: with every node rebound, the call fails with KmsNodesUnavailableError naming the binding, and no answer is taken, not even a 404', async () => {
    const { client } = sdk()
    hostile.relay.tamper = rebind(latestBinding(hostile))
    honest.relay.tamper = rebind(latestBinding(honest))
    try {
      const error = await unavailable(() => client.derive({ path: 'refusals/everywhere' }))
      expect(error).toBeInstanceOf(NovaKmsError)
      expect([error.code, error.transient, error.rounds, error.shortMessage]).toEqual(['nodes_unavailable', true, 3, 'No KMS node answered after 3 rounds'])
      // 3 rounds over both nodes, in URL order, each refused by the binding check.
      expect(error.failures).toEqual([hostile, honest, hostile, honest, hostile, honest].map(({ relay }) => ({ url: relay.url, reason: BINDING_REFUSED })))
      expect(error.details).toContain(`${hostile.relay.url}: ${BINDING_REFUSED}`)
      // The per-node failures are kept as reasons, not as causes: the chain ends here.
      expect(error.walk()).toBe(error)
      expect(error.walk((cause) => cause instanceof KmsClientError)).toBeNull()

      // A key that was never written: each node's bound 404 is rebound, so it is no not-found.
      const missing = await unavailable(() => client.kvGet('refusals/never-written'))
      expect(missing.failures.map((failure) => failure.reason)).toEqual(Array.from({ length: 6 }, () => BINDING_REFUSED))
      const notFound = exchanges(hostile, 'GET', '/kms/data/refusals%2Fnever-written').at(-1)
      expect(notFound?.status, 'the node itself answered 404').toBe(404)
    } finally {
      hostile.relay.tamper = undefined
      honest.relay.tamper = undefined
    }
  })

  it('error: a forged, unbound 404 for a stored key is not a not-found: the SDK fails over and reads the value', async () => {
    const { client } = sdk()
    await client.kvPut('refusals-forged', encode('stored'))
    await hostile.node.tick('sync_tick')
    expect(await valueOnEachNode('refusals-forged')).toEqual(['stored', 'stored'])
    hostile.relay.tamper = async (request) =>
      request.path === '/kms/data/refusals-forged'
        ? new Response('{"code":"not_found","message":"Key not found"}', { status: 404, headers: { 'content-type': 'application/json' } })
        : undefined
    try {
      const servedBefore = exchanges(honest, 'GET', '/kms/data/refusals-forged').length
      const read = await client.kvGet('refusals-forged')
      expect(read.found && decode(read.value)).toBe('stored')
      expect(exchanges(honest, 'GET', '/kms/data/refusals-forged').length - servedBefore).toBe(1)
    } finally {
      hostile.relay.tamper = undefined
    }
  })
})

describe('a replayed answer', () => {
  it('error: the node\'s earlier answer for another derive path is refused; the other node derives the asked path', async () => {
    const expected = bytesToHex((await (await app.client(honest.node)).derive({ path: 'refusals/asked' })).key)
    const { client } = sdk()
    await client.derive({ path: 'refusals/other' })
    const other = exchanges(hostile, 'POST', '/kms/derive').at(-1)!
    hostile.relay.tamper = async (request) => (request.path === '/kms/derive' ? replayOf(other) : undefined)
    try {
      const servedBefore = exchanges(honest, 'POST', '/kms/derive').length
      expect(bytesToHex(await client.derive({ path: 'refusals/asked' }))).toBe(expected)
      expect(exchanges(honest, 'POST', '/kms/derive').length - servedBefore).toBe(1)
    } finally {
      hostile.relay.tamper = undefined
    }
  })

  it('error: a stale value, replayed for a later read, is refused: the other node gives the current value, and with both replaying nothing is read', async () => {
    const { client } = sdk()
    const path = '/kms/data/refusals-rollback'
    await client.kvPut('refusals-rollback', encode('old'))
    await client.kvGet('refusals-rollback')
    const stale = exchanges(hostile, 'GET', path).at(-1)!
    await client.kvPut('refusals-rollback', encode('new'))
    await hostile.node.tick('sync_tick')
    expect(await valueOnEachNode('refusals-rollback')).toEqual(['new', 'new'])

    hostile.relay.tamper = async (request) => (request.path === path ? replayOf(stale) : undefined)
    try {
      const read = await client.kvGet('refusals-rollback')
      expect(read.found && decode(read.value)).toBe('new')
      const current = exchanges(honest, 'GET', path).at(-1)!

      // A third value; each relay now replays what its node answered before ('old', 'new').
      await client.kvPut('refusals-rollback', encode('newest'))
      honest.relay.tamper = async (request) => (request.path === path ? replayOf(current) : undefined)
      const error = await unavailable(() => client.kvGet('refusals-rollback'))
      expect(error.code).toBe('nodes_unavailable')
      expect(error.failures.map((failure) => failure.reason)).toEqual(Array.from({ length: 6 }, () => BINDING_REFUSED))
    } finally {
      hostile.relay.tamper = undefined
      honest.relay.tamper = undefined
    }
    const read = await client.kvGet('refusals-rollback')
    expect(read.found && decode(read.value)).toBe('newest')
  })
})
