/**
 * The cluster end to end (issue 5, PROTOCOL §4, §7): three `dist/kms.mjs` nodes in Miniflare
 * on loopback, each behind a proxy the test controls, on anvil with the real contracts.
 * Ticks are driven explicitly through `scheduled()`, so every step is deterministic.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAbiItem, createPublicClient, http, type Address, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClientError } from '../../core/client'
import { deriveDataKey, deriveSyncKey, encryptRecord, importRecordKey } from '../../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { startFaultyProxy, type FaultyProxy } from '../helpers/faultyProxy'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { createRoguePeer, type SyncTarget } from '../helpers/roguePeer'

const MASTER_SECRET_HEX = '2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b'

interface ClusterNode {
  node: TestNode
  proxy: FaultyProxy
  wallet: Wallet
  instanceId: number
}

let chain: DevChain
const members: ClusterNode[] = []
let app: TestApp

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const text = (value: Uint8Array): string => new TextDecoder().decode(value)

/** Starts a node behind its proxy and registers it on-chain under the proxy's URL. */
async function addNode(overrides: Record<string, string> = {}): Promise<ClusterNode> {
  const node = await startMiniflareNode(chain, { DATA_SYNC_INTERVAL_SECONDS: '1', ...overrides })
  const proxy = await startFaultyProxy(node.url)
  const { wallet, instanceId } = await registerKmsNode(chain, node, { instanceUrl: proxy.url })
  return { node, proxy, wallet, instanceId }
}

async function tickAll(name: 'node_tick' | 'sync_tick', nodes: readonly ClusterNode[] = members): Promise<void> {
  for (const member of nodes) await member.node.tick(name)
}

async function syncTarget(member: ClusterNode): Promise<SyncTarget> {
  const { node } = await member.node.status()
  return { url: member.proxy.url, wallet: node.tee_wallet, teePubkeyDer: parseHex(node.tee_pubkey)! }
}

async function valueOn(member: ClusterNode, key: string): Promise<string | undefined> {
  const client = await app.client(member.node)
  return client.getData(key).then(
    (read) => text(read.value),
    (error: unknown) => {
      if (error instanceof KmsClientError && error.status === 404) return undefined
      throw error
    },
  )
}

beforeAll(async () => {
  chain = await startDevChain()
  // Node 1 bootstraps with a known secret, so the test can play a peer holding the sync key.
  members.push(await addNode({ MASTER_SECRET_HEX }))
  await tickUntil(members[0]!.node, (status) => status.node.service_available)
  members.push(await addNode(), await addNode())
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  for (const member of members) {
    await member.node.stop()
    await member.proxy.close()
  }
  await chain?.stop()
})

describe('a three-node cluster', () => {
  it('behavior: node 1 bootstraps, nodes 2 and 3 join through sealed ECDH, all derive the same keys (conformance 87)', async () => {
    // Node 1 learns of the newcomers on its next tick; /sync never calls the chain.
    await members[0]!.node.tick('node_tick')
    for (const member of members.slice(1)) {
      const status = await tickUntil(member.node, (current) => current.node.service_available, { attempts: 3 })
      expect(status.node.master_secret).toEqual({ state: 'synced', synced_from: members[0]!.proxy.url })
    }
    const keys = await Promise.all(members.map(async (member) => bytesToHex((await (await app.client(member.node)).derive({ path: 'wallet/root' })).key)))
    expect(new Set(keys).size).toBe(1)
    for (const member of members) expect((await member.node.status()).cluster.total_instances).toBe(3)
  })

  it('behavior: every node serves the byte-identical CA, and a leaf from one verifies against another\'s (conformance 95)', async () => {
    const cas = await Promise.all(members.map(async (member) => (await (await member.node.fetch('/kms/ca')).json()) as { ca_certificate: string; fingerprint_sha256: string }))
    expect(new Set(cas.map((ca) => ca.ca_certificate)).size).toBe(1)
    const dir = mkdtempSync(join(tmpdir(), 'cluster-ca-'))
    execFileSync('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=x'], { cwd: dir, stdio: 'ignore' })
    const answer = await (await app.client(members[1]!.node)).signCert(readFileSync(join(dir, 'leaf.csr'), 'utf8'))
    writeFileSync(join(dir, 'leaf.pem'), String(answer['certificate']))
    writeFileSync(join(dir, 'ca.pem'), cas[2]!.ca_certificate)
    expect(execFileSync('openssl', ['verify', '-CAfile', 'ca.pem', 'leaf.pem'], { cwd: dir, encoding: 'utf8' }).trim()).toBe('leaf.pem: OK')
  })

  it('behavior: a put on node 1 is readable on nodes 2 and 3 after one sync round (conformance 84)', async () => {
    await (await app.client(members[0]!.node)).putData('replicated', bytes('from node 1'))
    await members[0]!.node.tick('sync_tick')
    expect(await valueOn(members[1]!, 'replicated')).toBe('from node 1')
    expect(await valueOn(members[2]!, 'replicated')).toBe('from node 1')
  })

  it('behavior: concurrent writes of one key converge everywhere to the §6.6 winner', async () => {
    const [first, second] = await Promise.all([
      (await app.client(members[0]!.node)).putData('contested', bytes('value from node 1')),
      (await app.client(members[1]!.node)).putData('contested', bytes('value from node 2')),
    ])
    await tickAll('sync_tick')
    await tickAll('sync_tick')
    const values = await Promise.all(members.map((member) => valueOn(member, 'contested')))
    expect(new Set(values).size).toBe(1)
    if (first.updatedAtMs !== second.updatedAtMs) {
      expect(values[0]).toBe(first.updatedAtMs > second.updatedAtMs ? 'value from node 1' : 'value from node 2')
    }
  })

  it('behavior: a partitioned node misses nothing once the partition heals', async () => {
    const [one, two, three] = members as [ClusterNode, ClusterNode, ClusterNode]
    three.proxy.isolated = true
    one.proxy.blockedSenders.add(three.wallet)
    two.proxy.blockedSenders.add(three.wallet)
    await (await app.client(one.node)).putData('during-partition-1', bytes('written on 1'))
    await (await app.client(three.node)).putData('during-partition-3', bytes('written on 3'))
    for (let round = 0; round < 3; round++) await tickAll('sync_tick')
    expect(await valueOn(two, 'during-partition-1')).toBe('written on 1')
    expect(await valueOn(three, 'during-partition-1')).toBeUndefined()
    expect(await valueOn(one, 'during-partition-3')).toBeUndefined()
    expect(three.proxy.refused + one.proxy.refused + two.proxy.refused).toBeGreaterThan(0)
    const metrics = await (await one.node.fetch('/metrics')).text()
    expect(metrics).toMatch(new RegExp(`nova_kms_sync_push_total\\{peer="${three.wallet}",result="failed"\\} [1-9]`))

    three.proxy.isolated = false
    one.proxy.blockedSenders.clear()
    two.proxy.blockedSenders.clear()
    await tickAll('sync_tick')
    for (const member of members) {
      expect(await valueOn(member, 'during-partition-1')).toBe('written on 1')
      expect(await valueOn(member, 'during-partition-3')).toBe('written on 3')
    }
  })

  it('error: misbehaving peers are refused as PROTOCOL §4.2 says, and nothing is stored (conformance 73–77, 79)', async () => {
    const target = await syncTarget(members[0]!)
    const syncKey = await deriveSyncKey(parseHex(MASTER_SECRET_HEX)!)
    const post = async (request: { headers: Record<string, string>; body: string }): Promise<[number, unknown]> => {
      const response = await fetch(`${target.url}/sync`, { method: 'POST', headers: request.headers, body: request.body })
      return [response.status, await response.json()]
    }
    const snapshot: Record<string, unknown> = { type: 'snapshot_request' }

    const stranger = await createRoguePeer()
    expect(await post(await stranger.prepare(target, snapshot, syncKey))).toEqual([403, { code: 'forbidden', message: `Peer ${stranger.wallet} not found in PeerCache` }])

    // A registered KMS instance that was then stopped drops out of the peer cache.
    const stopped = await createRoguePeer()
    const stoppedId = await chain.registerInstance({ teeWalletAddress: stopped.wallet as Address, teePubkey: `0x${bytesToHex(stopped.teeKey.publicKey.der)}` as Hex, instanceUrl: 'http://127.0.0.1:9' })
    await chain.setInstanceStatus(stoppedId, 1)
    await members[0]!.node.tick('node_tick')
    expect(await post(await stopped.prepare(target, snapshot, syncKey))).toEqual([403, { code: 'forbidden', message: `Peer ${stopped.wallet} not found in PeerCache` }])

    // A peer the registry lists, with the right keys, misbehaving in other ways.
    const peer = await createRoguePeer()
    await chain.registerInstance({ teeWalletAddress: peer.wallet as Address, teePubkey: `0x${bytesToHex(peer.teeKey.publicKey.der)}` as Hex, instanceUrl: 'http://127.0.0.1:9' })
    await members[0]!.node.tick('node_tick')

    const wrongKey = await peer.prepare(target, snapshot, new Uint8Array(32).fill(1))
    expect(await post(wrongKey)).toEqual([403, { code: 'unauthorized', message: 'Invalid HMAC signature' }])
    const noHmac = await peer.prepare(target, snapshot, undefined)
    expect(await post(noHmac)).toEqual([403, { code: 'unauthorized', message: 'Missing HMAC signature' }])

    const good = await peer.prepare(target, { type: 'snapshot_request', sender_wallet: peer.wallet }, syncKey)
    expect((await post(good))[0]).toBe(200)
    expect(await post(good)).toEqual([403, { code: 'unauthorized', message: 'Invalid or expired nonce' }])

    const spoofed = await peer.prepare(target, { type: 'snapshot_request', sender_wallet: members[1]!.wallet }, syncKey)
    expect(await post(spoofed)).toEqual([403, { code: 'unauthorized', message: 'sender_wallet does not match PoP signature' }])

    expect(await post(await peer.prepare(target, { type: 'gossip' }, syncKey))).toEqual([400, { code: 'bad_request', message: 'Unknown sync type: gossip' }])
    // master_secret_request needs no HMAC (it gets past step 7), but it needs the requester's
    // document (§4.5, step 7a), which comes before the dispatch checks its key.
    expect(await post(await peer.prepare(target, { type: 'master_secret_request' }, undefined))).toEqual([403, { code: 'unauthorized', message: 'Peer attestation required' }])

    // A delta with one good record and records that must each be rejected.
    const dataKey = await importRecordKey(await deriveDataKey(parseHex(MASTER_SECRET_HEX)!, app.appId))
    const good1 = bytesToHex(await encryptRecord(dataKey, bytes('accepted'), cryptoRandom.bytes(12)))
    const foreign = bytesToHex(await encryptRecord(await importRecordKey(new Uint8Array(32).fill(9)), bytes('x'), cryptoRandom.bytes(12)))
    const now = Date.now()
    const record = (key: string, value: string | null, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ key, value, version: { [peer.wallet]: 1 }, updated_at_ms: now, tombstone: value === null, ttl_ms: 0, ...extra })
    const delta = {
      type: 'delta',
      sender_wallet: peer.wallet,
      data: {
        [String(app.appId)]: [
          record('rogue-good', good1),
          record('rogue-undecryptable', foreign),
          record('rogue-short', '00'.repeat(27)),
          record('rogue-future', good1, { updated_at_ms: now + 60_000 }),
          record('rogue-bad-clock', good1, { version: { [peer.wallet.toUpperCase().replace('0X', '0x')]: 1 } }),
          record('', good1),
        ],
      },
    }
    const [status, answer] = await post(await peer.prepare(target, delta, syncKey))
    expect(status).toBe(200)
    expect(answer).toHaveProperty('encrypted_data') // sealed to the rogue's registered key
    expect(await valueOn(members[0]!, 'rogue-good')).toBe('accepted')
    for (const key of ['rogue-undecryptable', 'rogue-short', 'rogue-future', 'rogue-bad-clock']) expect(await valueOn(members[0]!, key)).toBeUndefined()
    const metrics = await (await members[0]!.node.fetch('/metrics')).text()
    expect(metrics).toMatch(/nova_kms_http_requests_total\{route="\/sync",method="POST",status="403"\} [6-9]/)
  })

  it('behavior: a node killed and restarted re-joins, gets the secret and a snapshot, and serves the same data', async () => {
    const old = members[1]!
    await old.node.stop()
    await old.proxy.close()
    await chain.setInstanceStatus(old.instanceId, 1)
    const restarted = await addNode()
    members[1] = restarted
    await tickAll('node_tick', [members[0]!, members[2]!])
    const status = await tickUntil(restarted.node, (current) => current.node.service_available, { attempts: 3 })
    expect(status.node.master_secret.state).toBe('synced')
    expect(await valueOn(restarted, 'replicated')).toBe('from node 1')
    expect(await valueOn(restarted, 'during-partition-3')).toBe('written on 3')
  })

  it('behavior: after the owner resets the hash, the cluster re-commits the same secret (conformance 91)', async () => {
    const before = bytesToHex((await (await app.client(members[0]!.node)).derive({ path: 'stable' })).key)
    await chain.resetMasterSecretHash()
    await tickAll('node_tick')
    for (const member of members) await tickUntil(member.node, (status) => status.node.service_available, { attempts: 3 })
    for (const member of members) {
      expect(bytesToHex((await (await app.client(member.node)).derive({ path: 'stable' })).key)).toBe(before)
    }
  })
})

describe('anti-split-brain', () => {
  it('behavior: two nodes racing on a zero hash end with one secret and one MasterSecretHashSet (conformance 90)', async () => {
    const raceChain = await startDevChain()
    const racers: TestNode[] = []
    try {
      for (let index = 0; index < 2; index++) {
        const node = await startMiniflareNode(raceChain)
        racers.push(node)
        await registerKmsNode(raceChain, node)
      }
      await Promise.all(racers.map((node) => node.tick('node_tick')))
      for (const node of racers) await tickUntil(node, (status) => status.node.service_available, { attempts: 4 })
      const states = await Promise.all(racers.map(async (node) => (await node.status()).node.master_secret.state))
      expect(states.sort()).toEqual(['generated', 'synced'])
      const app2 = await registerTestApp(raceChain)
      const keys = await Promise.all(racers.map(async (node) => bytesToHex((await (await app2.client(node)).derive({ path: 'p' })).key)))
      expect(keys[0]).toBe(keys[1])
      const client = createPublicClient({ transport: http(raceChain.rpcUrl) })
      const events = await client.getLogs({
        address: raceChain.addresses.kmsRegistry,
        event: parseAbiItem('event MasterSecretHashSet(bytes32 indexed hash, address indexed setter)'),
        fromBlock: 0n,
      })
      expect(events).toHaveLength(1)
    } finally {
      for (const node of racers) await node.stop()
      await raceChain.stop()
    }
  })

  it('behavior: a node never serves /kms/* while its secret differs from the chain', async () => {
    const node = members[2]!.node
    // After a reset the node re-commits its secret, and serves nothing until a later tick
    // reads the mined hash back (§7.1 step 6, §7.5).
    await chain.resetMasterSecretHash()
    await node.tick('node_tick')
    const status = await node.status()
    expect(status.node.service_available).toBe(false)
    expect(status.node.unavailable_reason).toBe('awaiting on-chain master secret hash')
    const refused = await node.fetch('/kms/derive', { method: 'POST', body: '{}' })
    expect(refused.status).toBe(503)
    await tickUntil(node, (current) => current.node.service_available, { attempts: 3 })
  })
})
