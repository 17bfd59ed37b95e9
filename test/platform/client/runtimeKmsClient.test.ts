/**
 * RUNTIME.md §1 "Request" and "Response checks" against in-memory nodes: headers, label and
 * GET key form; 3 rounds 150 ms apart; failover on connection errors, timeouts and 503; the
 * stricter answer checks; the reserved derive prefix; the runtime's own authorization.
 */
import { beforeEach, describe, expect, it } from 'vitest'
import {
  AUTHORIZATION_TTL_MS,
  KmsInstanceNotAuthorizedError,
  KmsNodesUnavailableError,
  KmsRequestRejectedError,
  KmsReservedPathError,
  NodeDirectory,
  RuntimeKmsClient,
  type RuntimeInstanceAuthorization,
} from '../../../core/client'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet, type P384PrivateKey } from '../../../core/crypto'
import { parseHex } from '../../../core/encoding'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { FakeKmsNode, FakeNetwork } from '../_fakeKmsNodes'

const random = seededRandom(11)
let clock: FakeClock
let network: FakeNetwork
let nodes: FakeKmsNode[]
let walletKey: Uint8Array
let teeKey: P384PrivateKey
let sleeps: number[]
let authorizations: number
let authorize: () => Promise<RuntimeInstanceAuthorization>

function client(options: { timeoutMs?: number } = {}): RuntimeKmsClient {
  const directory = new NodeDirectory({ discover: async () => nodes.map((node) => node.identity), clock, fetch: network.fetch, timeoutMs: 1000 })
  return new RuntimeKmsClient({
    directory,
    authorize: () => {
      authorizations++
      return authorize()
    },
    walletKey,
    teeKey,
    clock,
    random,
    sleep: async (milliseconds) => {
      sleeps.push(milliseconds)
    },
    fetch: network.fetch,
    timeoutMs: options.timeoutMs ?? 1000,
  })
}

const kmsCalls = (node: FakeKmsNode): number => node.calls('/kms/').length

beforeEach(async () => {
  clock = new FakeClock(Date.now())
  walletKey = generateWalletPrivateKey(random)
  teeKey = await generateP384PrivateKey(random)
  nodes = []
  for (const port of [9001, 9002, 9003]) {
    const node = await FakeKmsNode.create(`http://127.0.0.1:${port}`, random)
    node.appKey = teeKey.publicKey
    nodes.push(node)
  }
  network = new FakeNetwork().add(...nodes)
  sleeps = []
  authorizations = 0
  authorize = async () => ({ appId: 7, instanceId: 3, registryAppWallet: privateKeyToWallet(walletKey) })
})

describe('RuntimeKmsClient: requests', () => {
  it('behavior: derive sends {path, context, length} sealed with the capsule label, to the first node', async () => {
    const key = await client().derive({ path: 'wallet/root', context: 'ctx', length: 16 })
    expect(key).toEqual(new Uint8Array(16).fill(7))
    expect(kmsCalls(nodes[0]!)).toBe(1)
    expect(kmsCalls(nodes[1]!) + kmsCalls(nodes[2]!)).toBe(0)
  })

  it('behavior: lowercase x-app-* headers with x-app-wallet; content-type only with a body; PoP v ∈ {0, 1}', async () => {
    const subject = client()
    await subject.derive({ path: 'p' })
    await subject.kvGet('k')
    const [post, get] = nodes[0]!.calls('/kms/')
    expect(post!.headers['x-app-wallet']).toBe(privateKeyToWallet(walletKey))
    expect(post!.headers['content-type']).toBe('application/json')
    expect(get!.headers['content-type']).toBeUndefined()
    expect(Object.keys(get!.headers)).toEqual(expect.arrayContaining(['x-app-signature', 'x-app-nonce', 'x-app-timestamp', 'x-app-wallet']))
    expect(parseHex(get!.headers['x-app-signature']!)![64]).toBeLessThanOrEqual(1)
  })

  it('behavior: the GET key is form-urlencoded in the path: "/" is %2F, a space is +', async () => {
    const subject = client()
    await subject.kvPut('dir/a key', new TextEncoder().encode('v'))
    const read = await subject.kvGet('dir/a key')
    expect(nodes[0]!.calls('/kms/data/')[0]!.url).toBe('http://127.0.0.1:9001/kms/data/dir%2Fa+key')
    expect(read).toEqual({ found: true, value: new TextEncoder().encode('v') })
  })

  it('behavior: not found is a 404, or a body containing "key not found"', async () => {
    const subject = client()
    expect(await subject.kvGet('missing')).toEqual({ found: false })
    expect(await subject.kvDelete('missing')).toEqual({ deleted: false })
    const worded = new FakeNetwork()
    worded.fetch = async () => Response.json({ code: 'bad_request', message: 'Key Not Found somewhere' }, { status: 400 })
    network.fetch = async (input, init) => (new URL(String(input)).pathname.startsWith('/kms/data/') ? worded.fetch(input, init) : network.nodes[0]!.handle(new Request(input, init)))
    expect(await client().kvGet('other')).toEqual({ found: false })
  })

  it('error: a derive path under wallet/eth/app/ is refused before any request', async () => {
    await expect(client().derive({ path: 'wallet/eth/app/main' })).rejects.toBeInstanceOf(KmsReservedPathError)
    expect(nodes.every((node) => node.requests.length === 0)).toBe(true)
    // Only the prefix is reserved.
    await expect(client().derive({ path: 'wallet/eth/application' })).resolves.toHaveLength(32)
  })

  it('error: a node\'s 4xx is final: no other node is tried', async () => {
    const error = await client().kvPut('', new Uint8Array(1)).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsRequestRejectedError)
    expect(error).toMatchObject({ status: 400, code: 'bad_request', message: "Invalid 'key'", transient: false })
    expect(kmsCalls(nodes[1]!)).toBe(0)
  })
})

describe('RuntimeKmsClient: rounds and failover', () => {
  it('behavior: a connection error moves on to the next node', async () => {
    nodes[0]!.mode = 'down'
    await client().derive({ path: 'p' })
    expect(kmsCalls(nodes[1]!)).toBe(1)
  })

  it('behavior: a node that does not answer within the timeout is skipped', async () => {
    nodes[0]!.mode = 'hang'
    await client({ timeoutMs: 40 }).derive({ path: 'p' })
    expect(kmsCalls(nodes[1]!)).toBe(1)
  })

  it('behavior: a 503 moves on to the next node', async () => {
    nodes[0]!.mode = 'unavailable'
    nodes[1]!.mode = 'unavailable'
    await client().derive({ path: 'p' })
    expect(kmsCalls(nodes[2]!)).toBe(1)
  })

  it('behavior: all nodes down gives KmsNodesUnavailableError after 3 rounds over every node, 150 ms apart', async () => {
    for (const node of nodes) node.mode = 'unavailable'
    const error = await client().derive({ path: 'p' }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsNodesUnavailableError)
    expect(error).toMatchObject({ rounds: 3, transient: true })
    expect(sleeps).toEqual([150, 150])
    expect(nodes.map(kmsCalls)).toEqual([3, 3, 3])
    expect((error as KmsNodesUnavailableError).failures).toHaveLength(9)
  })

  it('behavior: stopped processes (connection refused everywhere) still get 3 rounds over every node', async () => {
    for (const node of nodes) node.mode = 'down'
    await expect(client().derive({ path: 'p' })).rejects.toBeInstanceOf(KmsNodesUnavailableError)
    expect(sleeps).toEqual([150, 150])
    // No connection ever reached a node.
    expect(nodes.map((node) => node.requests.length)).toEqual([0, 0, 0])
  })

  it('behavior: a node back in round 2 serves the call', async () => {
    for (const node of nodes) node.mode = 'unavailable'
    const sleeping = async (): Promise<void> => {
      nodes[2]!.mode = 'ok'
    }
    const healing = new RuntimeKmsClient({
      directory: new NodeDirectory({ discover: async () => nodes.map((node) => node.identity), clock, fetch: network.fetch }),
      authorize,
      walletKey,
      teeKey,
      clock,
      random,
      sleep: sleeping,
      fetch: network.fetch,
    })
    expect(await healing.derive({ path: 'p' })).toHaveLength(32)
    // Round 1 over all three, then node 3 serves round 2 after nodes 1 and 2 fail again.
    expect(nodes.map(kmsCalls)).toEqual([2, 2, 2])
  })
})

describe('RuntimeKmsClient: answer checks', () => {
  it('error: a counter-signature with v = 27/28 is rejected, the node\'s identity re-checked, the next node used', async () => {
    nodes[0]!.mode = 'v27'
    const subject = client()
    await subject.derive({ path: 'p' })
    expect(kmsCalls(nodes[1]!)).toBe(1)
    await subject.derive({ path: 'p' })
    // The identity cache of node 1 was invalidated: its /status is read again.
    expect(nodes[0]!.calls('/status')).toHaveLength(2)
    expect(nodes[1]!.calls('/status')).toHaveLength(1)
  })

  it('error: a replayed answer envelope is refused', async () => {
    const subject = client()
    await subject.derive({ path: 'p' })
    nodes[0]!.mode = 'replay'
    await subject.derive({ path: 'p' })
    expect(kmsCalls(nodes[1]!)).toBe(1)
  })

  it('error: every node answering with v = 27 ends in KmsNodesUnavailableError', async () => {
    for (const node of nodes) node.mode = 'v27'
    const error = (await client().derive({ path: 'p' }).catch((caught: unknown) => caught)) as KmsNodesUnavailableError
    expect(error).toBeInstanceOf(KmsNodesUnavailableError)
    expect(new Set(error.failures.map((failure) => failure.reason))).toEqual(new Set(['response signature v is not 0 or 1']))
  })
})

describe('RuntimeKmsClient: its own authorization', () => {
  it('behavior: checked before the first call and cached 10 s', async () => {
    const subject = client()
    await subject.derive({ path: 'p' })
    clock.ms += AUTHORIZATION_TTL_MS - 1
    await subject.derive({ path: 'p' })
    expect(authorizations).toBe(1)
    clock.ms += 1
    await subject.derive({ path: 'p' })
    expect(authorizations).toBe(2)
  })

  it('error: an unauthorized instance fails before any node is asked', async () => {
    authorize = async () => {
      throw new KmsInstanceNotAuthorizedError('instance not active')
    }
    await expect(client().kvGet('k')).rejects.toBeInstanceOf(KmsInstanceNotAuthorizedError)
    expect(nodes.every((node) => node.requests.length === 0)).toBe(true)
  })
})
