/**
 * Peer attestation (PROTOCOL §4.5) in a dev-mode cluster on anvil: `dist/kms.mjs` nodes in
 * Miniflare, ticks driven explicitly. The registry lists, in this order:
 * - a rogue instance whose host answers `/attestation` with a dev-rooted document for the
 *   asked nonce but another wallet: a joiner must skip it (seed steps 4.1–4.3);
 * - node 1, which bootstraps with a known secret, so a test can compare what it unseals;
 * - two hand-built requesters (test/helpers/attestingRequester.ts), registered and
 *   zkVerified, so that PoP and the peer cache pass and only their document decides (seed
 *   step 4.4): one on version 2 (ENROLLED), one on version 3 (DEPRECATED);
 * - nodes 2 and 3, which join in the first test.
 * Every version carries the dev measurement, so a correct dev document passes. Later a node
 * of version 2 replaces node 2 while version 1 is DEPRECATED, and the last test checks that
 * deltas and a snapshot still flow among the real nodes after all the refusals.
 */
import { createServer, type Server } from 'node:http'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { LOOPBACK, waitUntil } from '../../bundle/processes'
import { KmsClientError } from '../../core/client'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToBase64, bytesToHex, parseBase64, parseHex, type Wallet } from '../../core/encoding'
import { issueDevAttestation } from '../../core/tee'
import { createAttestingRequester, type AttestingRequester, type SecretRequest } from '../helpers/attestingRequester'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { DEV_CODE_MEASUREMENT } from '../helpers/devMeasurement'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import type { SyncTarget } from '../helpers/roguePeer'

const MASTER_SECRET_HEX = '3c'.repeat(32)
const DEV_MEASUREMENT_HEX = `0x${bytesToHex(DEV_CODE_MEASUREMENT)}` as Hex
const VERSION = { nodes: 1, requester: 2, deprecated: 3 } as const
const VERSION_STATUS = { ENROLLED: 0, DEPRECATED: 1 } as const
/** ATTESTATION_MAX_AGE_SECONDS's default, which the nodes keep. */
const MAX_AGE_SECONDS = 300

/** A registered KMS instance whose host is hostile: /attestation for another wallet, 404 otherwise. */
interface RogueResponder {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
  /** The path of every request it received, in order. */
  readonly paths: string[]
  close(): Promise<void>
}

/**
 * The dev root's key is public (PROTOCOL §10.3), so a host can issue a dev document for any
 * nonce and key; what it cannot fake is the registered wallet, here a stranger's.
 */
async function startRogueResponder(): Promise<RogueResponder> {
  const wallet = privateKeyToWallet(generateWalletPrivateKey(cryptoRandom))
  const stranger = privateKeyToWallet(generateWalletPrivateKey(cryptoRandom))
  const teePubkeyDer = (await generateP384PrivateKey(cryptoRandom)).publicKey.der
  const paths: string[] = []
  const server: Server = createServer((incoming, outgoing) => {
    incoming.resume()
    const url = new URL(incoming.url ?? '/', 'http://x')
    paths.push(url.pathname)
    const nonce = parseBase64(url.searchParams.get('nonce') ?? '')
    if (url.pathname !== '/attestation' || nonce === undefined) {
      outgoing.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found","message":"rogue"}')
      return
    }
    issueDevAttestation({ request: { nonce, publicKeyDer: teePubkeyDer }, wallet: stranger, teePublicKeyDer: teePubkeyDer, nowMs: Date.now(), random: cryptoRandom }).then(
      (document) => outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ attestation: bytesToBase64(document) })),
      () => outgoing.writeHead(500).end(),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()))
  const address = server.address()
  const url = `http://${LOOPBACK}:${typeof address === 'object' && address !== null ? address.port : 0}`
  return {
    url,
    wallet,
    teePubkeyDer,
    paths,
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

let chain: DevChain
let rogue: RogueResponder
let one: TestNode
let two: TestNode
let three: TestNode
let four: TestNode
/** Every node started and not yet stopped, for afterAll. */
const running = new Set<TestNode>()
let twoInstanceId: number
let requester: AttestingRequester
let deprecatedRequester: AttestingRequester
let app: TestApp

async function target(node: TestNode): Promise<SyncTarget> {
  const { node: self } = await node.status()
  return { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! }
}

/** `nova_kms_peer_attestations_total` of `node`, keyed `<verified> <result>`. */
async function peerAttestations(node: TestNode): Promise<Record<string, number>> {
  const text = await (await node.fetch('/metrics')).text()
  const counts: Record<string, number> = {}
  for (const match of text.matchAll(/^nova_kms_peer_attestations_total\{verified="(\w+)",result="([^"]*)"\} (\d+)$/gm)) {
    counts[`${match[1]} ${match[2]}`] = Number(match[3])
  }
  return counts
}

/** `nova_kms_attestation_failures_total{source="peer"}` of `node`, keyed by reason (§2.8). */
async function peerAttestationFailures(node: TestNode): Promise<Record<string, number>> {
  const text = await (await node.fetch('/metrics')).text()
  const counts: Record<string, number> = {}
  for (const match of text.matchAll(/^nova_kms_attestation_failures_total\{source="peer",reason="([^"]*)"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2])
  return counts
}

/** `nova_kms_sync_push_total{result="ok"}` of `node`, by peer wallet. */
async function pushesOk(node: TestNode): Promise<Record<string, number>> {
  const text = await (await node.fetch('/metrics')).text()
  const counts: Record<string, number> = {}
  for (const match of text.matchAll(/^nova_kms_sync_push_total\{peer="([^"]*)",result="ok"\} (\d+)$/gm)) counts[match[1]!] = Number(match[2])
  return counts
}

/** What grew between two readings of `peerAttestations`. */
function increase(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const grown: Record<string, number> = {}
  for (const [key, count] of Object.entries(after)) if (count !== (before[key] ?? 0)) grown[key] = count - (before[key] ?? 0)
  return grown
}

async function registerAs(who: { wallet: Wallet; teePubkeyDer: Uint8Array }, versionId: number, instanceUrl: string): Promise<number> {
  return chain.registerInstance({ versionId, teeWalletAddress: who.wallet as Address, teePubkey: `0x${bytesToHex(who.teePubkeyDer)}` as Hex, instanceUrl })
}

async function valueOn(node: TestNode, key: string): Promise<string | undefined> {
  return (await app.client(node)).getData(key).then(
    (read) => new TextDecoder().decode(read.value),
    (error: unknown) => {
      if (error instanceof KmsClientError && error.status === 404) return undefined
      throw error
    },
  )
}

async function startNode(overrides: Record<string, string> = {}): Promise<TestNode> {
  const node = await startMiniflareNode(chain, overrides)
  running.add(node)
  return node
}

async function put(node: TestNode, key: string, text: string): Promise<void> {
  await (await app.client(node)).putData(key, new TextEncoder().encode(text))
}

beforeAll(async () => {
  chain = await startDevChain()
  rogue = await startRogueResponder()
  await registerAs(rogue, VERSION.nodes, rogue.url)
  for (const versionId of [VERSION.requester, VERSION.deprecated]) {
    await chain.enrollVersion({ appId: chain.addresses.kmsAppId, versionId, versionName: `v${versionId}`, codeMeasurement: DEV_MEASUREMENT_HEX, imageUri: '' })
  }
  one = await startNode({ MASTER_SECRET_HEX })
  await registerKmsNode(chain, one)
  await tickUntil(one, (status) => status.node.service_available)
  requester = await createAttestingRequester()
  await registerAs(requester, VERSION.requester, 'http://127.0.0.1:9')
  deprecatedRequester = await createAttestingRequester()
  await registerAs(deprecatedRequester, VERSION.deprecated, 'http://127.0.0.1:9')
  await chain.setVersionStatus(chain.addresses.kmsAppId, VERSION.deprecated, VERSION_STATUS.DEPRECATED)
  app = await registerTestApp(chain)
  await put(one, 'before-join', 'written on node 1')
  two = await startNode()
  twoInstanceId = (await registerKmsNode(chain, two)).instanceId
  three = await startNode()
  await registerKmsNode(chain, three)
}, 300_000)

afterAll(async () => {
  for (const node of running) await node.stop()
  await rogue?.close()
  await chain?.stop()
})

describe('the joiner checks the responder (seed steps 4.1–4.3)', () => {
  it('behavior: nodes 2 and 3 skip the rogue listed first, whose document names another wallet, and join from node 1 with its snapshot', async () => {
    const logged = vi.spyOn(console, 'error')
    try {
      const rogueLines = (): unknown[] =>
        logged.mock.calls
          .map((call) => String(call[0]))
          .filter((line) => line.includes('"msg":"peer attestation failed"'))
          .map((line) => JSON.parse(line.slice(line.indexOf('{'), line.lastIndexOf('}') + 1)) as Record<string, unknown>)
          .filter((fields) => fields['peer'] === rogue.url)
      const oneBefore = await peerAttestations(one)
      const seen = rogue.paths.length
      // Node 1 learns of the newcomers (and of the hand-built requesters) on its next tick.
      await one.tick('node_tick')
      for (const joiner of [two, three]) {
        const status = await tickUntil(joiner, (current) => current.node.service_available, { attempts: 3 })
        expect(status.node.master_secret).toEqual({ state: 'synced', synced_from: one.url })
        expect(await peerAttestations(joiner)).toEqual({ 'responder wallet mismatch': 1, 'responder ok': 1 })
        expect(await valueOn(joiner, 'before-join')).toBe('written on node 1')
      }
      // Each joiner fetched the rogue's document once, and no secret request ever went to it.
      // (Its /nonce is asked by node 1's cold-start snapshot, which cannot reach a secret.)
      expect(rogue.paths.slice(seen).filter((path) => path === '/attestation')).toHaveLength(2)
      expect(rogue.paths).not.toContain('/sync')
      expect(increase(oneBefore, await peerAttestations(one))).toEqual({ 'requester ok': 2 })
      // Miniflare relays the nodes' stderr to console.error as it reads it: wait for both lines.
      await waitUntil('two "peer attestation failed" lines', () => rogueLines().length >= 2, { timeoutMs: 10_000, intervalMs: 50 })
      expect(rogueLines()).toEqual([0, 1].map(() => expect.objectContaining({ level: 'warn', error: 'Peer attestation rejected: wallet mismatch' })))
    } finally {
      logged.mockRestore()
    }
  })
})

describe('the responder checks the requester (seed step 4.4)', () => {
  let replayable: string

  it('behavior: the hand-built requester with a correct document gets the committed secret, counted ok', async () => {
    const to = await target(one)
    const before = await peerAttestations(one)
    const request = await requester.prepare(to)
    replayable = await requester.document(request)
    const answer = await requester.send(request, replayable)
    expect(answer.status).toBe(200)
    expect(answer.bound).toBe(true)
    expect(bytesToHex(await requester.openSecret(request, answer))).toBe(MASTER_SECRET_HEX)
    expect(increase(before, await peerAttestations(one))).toEqual({ 'requester ok': 1 })
  })

  /** Each builds the document (or none) that the same requester attaches to a fresh request to node 1. */
  const refusals: { name: string; check: string; attestation: (request: SecretRequest) => Promise<string | undefined> }[] = [
    { name: 'no document', check: 'missing', attestation: async () => undefined },
    {
      name: 'a wrong measurement (PCR0 not zero)',
      check: 'measurement mismatch',
      attestation: (request) => requester.document(request, { pcrs: new Map([[0, new Uint8Array(48).fill(1)]]) }),
    },
    {
      name: 'a document for another wallet',
      check: 'wallet mismatch',
      attestation: (request) => requester.document(request, { wallet: privateKeyToWallet(generateWalletPrivateKey(cryptoRandom)) }),
    },
    {
      name: 'a document for another key',
      check: 'public key mismatch',
      attestation: async (request) => requester.document(request, { publicKeyDer: (await generateP384PrivateKey(cryptoRandom)).publicKey.der }),
    },
    { name: 'a document without nova_kms', check: 'missing nova_kms', attestation: (request) => requester.document(request, { novaKms: null }) },
    {
      name: 'a document for another purpose',
      check: 'wrong purpose',
      attestation: (request) => requester.document(request, { novaKms: { v: 2, purpose: 'derive', kms_wallet: request.target.wallet, request_digest: request.requestDigest } }),
    },
    {
      name: 'a document for another recipient (node 2)',
      check: 'not for this node',
      attestation: async (request) => requester.document(request, { novaKms: { v: 2, purpose: 'sync', kms_wallet: (await target(two)).wallet, request_digest: request.requestDigest } }),
    },
    {
      name: 'a document for another request with the same nonce',
      check: 'request digest mismatch',
      attestation: (request) => requester.document(request, { novaKms: { v: 2, purpose: 'sync', kms_wallet: request.target.wallet, request_digest: 'ab'.repeat(32) } }),
    },
    {
      name: "the responder's own /attestation for the PoP nonce (its eth_addr, no nova_kms)",
      check: 'wallet mismatch',
      attestation: async (request) => {
        const response = await fetch(`${request.target.url}/attestation?nonce=${encodeURIComponent(request.nonce)}`)
        return ((await response.json()) as { attestation: string }).attestation
      },
    },
    {
      name: `a stale document (${MAX_AGE_SECONDS + 30} s old)`,
      check: 'ATTESTATION_TOO_OLD',
      attestation: (request) => requester.document(request, { nowMs: Date.now() - (MAX_AGE_SECONDS + 30) * 1000 }),
    },
  ]

  it.each(refusals)('error: $name gets a bound 403 naming "$check", no secret, and the check counted', async ({ check, attestation }) => {
    const before = await peerAttestations(one)
    const failuresBefore = await peerAttestationFailures(one)
    const request = await requester.prepare(await target(one))
    const answer = await requester.send(request, await attestation(request))
    expect(answer).toEqual({
      status: 403,
      body: { code: 'unauthorized', message: check === 'missing' ? 'Peer attestation required' : `Peer attestation rejected: ${check}` },
      bound: true,
    })
    expect(increase(before, await peerAttestations(one))).toEqual({ [`requester ${check}`]: 1 })
    expect(increase(failuresBefore, await peerAttestationFailures(one)), 'and under the one attestation-failure series').toEqual({ [check]: 1 })
  })

  it('error: the successful request\'s document, replayed with a new PoP nonce, gets ATTESTATION_NONCE_MISMATCH and no secret', async () => {
    const before = await peerAttestations(one)
    const request = await requester.prepare(await target(one))
    expect(await requester.send(request, replayable)).toEqual({
      status: 403,
      body: { code: 'unauthorized', message: 'Peer attestation rejected: ATTESTATION_NONCE_MISMATCH' },
      bound: true,
    })
    expect(increase(before, await peerAttestations(one))).toEqual({ 'requester ATTESTATION_NONCE_MISMATCH': 1 })
  })

  it('error: a requester whose version is DEPRECATED gets "version not enrolled" with a correct document', async () => {
    const before = await peerAttestations(one)
    const request = await deprecatedRequester.prepare(await target(one))
    expect(await deprecatedRequester.send(request, await deprecatedRequester.document(request))).toEqual({
      status: 403,
      body: { code: 'unauthorized', message: 'Peer attestation rejected: version not enrolled' },
      bound: true,
    })
    expect(increase(before, await peerAttestations(one))).toEqual({ 'requester version not enrolled': 1 })
  })

  it('behavior: responders whose version is DEPRECATED still serve: the requester, and a node of version 2 replacing node 2, get the secret; the newcomer its snapshot', async () => {
    await chain.setVersionStatus(chain.addresses.kmsAppId, VERSION.nodes, VERSION_STATUS.DEPRECATED)
    await one.tick('node_tick')
    expect((await one.status()).node.service_available).toBe(true)
    const request = await requester.prepare(await target(one))
    const answer = await requester.send(request, await requester.document(request))
    expect(bytesToHex(await requester.openSecret(request, answer))).toBe(MASTER_SECRET_HEX)

    // Node 2 is replaced by a node of the new version (a rolling upgrade): it checks node 1's
    // document under a DEPRECATED version, and node 1 checks its own under an ENROLLED one.
    await two.stop()
    running.delete(two)
    await chain.setInstanceStatus(twoInstanceId, 1)
    four = await startNode()
    const { node: self } = await four.status()
    await registerAs({ wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! }, VERSION.requester, four.url)
    const oneBefore = await peerAttestations(one)
    for (const node of [one, three]) await node.tick('node_tick')
    const status = await tickUntil(four, (current) => current.node.service_available, { attempts: 3 })
    expect(status.node.master_secret).toEqual({ state: 'synced', synced_from: one.url })
    expect(await peerAttestations(four)).toEqual({ 'responder wallet mismatch': 1, 'responder ok': 1 })
    expect(increase(oneBefore, await peerAttestations(one))).toEqual({ 'requester ok': 1 })
    expect(await valueOn(four, 'before-join')).toBe('written on node 1')
    // Version 1 is enrolled again, for the node that joins in the last test.
    await chain.setVersionStatus(chain.addresses.kmsAppId, VERSION.nodes, VERSION_STATUS.ENROLLED)
  })
})

describe('replication after all this', () => {
  it('behavior: deltas flow between nodes 1, 3 and 4 both ways, and a snapshot carries them to a node that joins later', async () => {
    const members = [one, three, four]
    const wallets = await Promise.all(members.map(async (node) => (await node.status()).node.tee_wallet))
    for (const [index, writer] of members.entries()) {
      const before = await pushesOk(writer)
      await put(writer, `after-${index}`, `written on member ${index}`)
      await writer.tick('sync_tick')
      // The push to each other member succeeded (the rogue and the hand-built requesters fail)…
      const after = await pushesOk(writer)
      expect(wallets.filter((_, other) => other !== index).map((wallet) => (after[wallet] ?? 0) - (before[wallet] ?? 0))).toEqual([1, 1])
      // …and the record is readable there.
      for (const reader of members) expect(await valueOn(reader, `after-${index}`)).toBe(`written on member ${index}`)
    }
    // A snapshot: a node joining now gets every record without any delta (§4.3, §7.1 step 7.4).
    const late = await startNode()
    await registerKmsNode(chain, late)
    for (const node of members) await node.tick('node_tick')
    expect((await tickUntil(late, (current) => current.node.service_available, { attempts: 3 })).node.master_secret.state).toBe('synced')
    expect(await Promise.all(['before-join', 'after-0', 'after-1', 'after-2'].map((key) => valueOn(late, key)))).toEqual([
      'written on node 1',
      'written on member 0',
      'written on member 1',
      'written on member 2',
    ])
  })
})
