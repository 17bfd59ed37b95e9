/**
 * Sync binding v2 in a mixed cluster on anvil (PROTOCOL §3.6, issue 12): two `dist/kms.mjs`
 * nodes in Miniflare (node 1, and node 2 with MIN_SYNC_VERSION=2) and a node from before v2
 * (test/helpers/legacyPeer.ts: the pre-v2 /sync composed of core, on loopback), all
 * registered KMS instances sharing one master secret. Ticks are driven explicitly.
 */
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClientError } from '../../core/client'
import {
  buildResponseBindingMessage,
  buildResponseMessage,
  computeContentSha256,
  deriveDataKey,
  encryptRecord,
  importRecordKey,
  recoverMessageSigner,
} from '../../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { startLegacyPeer, type LegacyPeer, type SyncTarget } from '../helpers/legacyPeer'
import { createRoguePeer } from '../helpers/roguePeer'

const MASTER_SECRET_HEX = '4d'.repeat(32)

let chain: DevChain
let one: TestNode
let strict: TestNode
let legacy: LegacyPeer
let app: TestApp

async function target(node: TestNode): Promise<SyncTarget> {
  const { node: self } = await node.status()
  return { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! }
}

async function post(to: SyncTarget, request: { headers: Record<string, string>; body: string }): Promise<Response> {
  return fetch(`${to.url}/sync`, { method: 'POST', headers: request.headers, body: request.body })
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

/** A delta of one record of the test app, as a peer holding the secret makes it. */
async function delta(sender: Wallet, key: string, text: string): Promise<Record<string, unknown>> {
  const dataKey = await importRecordKey(await deriveDataKey(parseHex(MASTER_SECRET_HEX)!, app.appId))
  const value = bytesToHex(await encryptRecord(dataKey, new TextEncoder().encode(text), cryptoRandom.bytes(12)))
  return { type: 'delta', data: { [String(app.appId)]: [{ key, value, version: { [sender]: 1 }, updated_at_ms: Date.now(), tombstone: false, ttl_ms: 0 }] } }
}

beforeAll(async () => {
  chain = await startDevChain()
  one = await startMiniflareNode(chain, { MASTER_SECRET_HEX })
  await registerKmsNode(chain, one)
  await tickUntil(one, (status) => status.node.service_available)
  legacy = await startLegacyPeer({ masterSecret: parseHex(MASTER_SECRET_HEX)!, kmsAppId: chain.addresses.kmsAppId })
  await chain.registerInstance({ teeWalletAddress: legacy.wallet as Address, teePubkey: `0x${bytesToHex(legacy.teePubkeyDer)}` as Hex, instanceUrl: legacy.url })
  strict = await startMiniflareNode(chain, { MIN_SYNC_VERSION: '2' })
  await registerKmsNode(chain, strict)
  await one.tick('node_tick')
  // Node 2 joins from node 1 (first in registry order) over v2.
  await tickUntil(strict, (status) => status.node.service_available, { attempts: 3 })
  for (const node of [one, strict]) {
    const self = await target(node)
    legacy.allow(self.wallet, self.teePubkeyDer)
  }
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  await one?.stop()
  await strict?.stop()
  await legacy?.close()
  await chain?.stop()
})

describe('a mixed v1/v2 cluster (§3.6)', () => {
  it('behavior: it syncs both ways: node 1 reaches the v1 node by one v1 retry, the v1 node\'s v1 push is served, node 2 gets it over v2', async () => {
    await (await app.client(one)).putData('from-v2', new TextEncoder().encode('written on node 1'))
    const before = legacy.received.length
    await one.tick('sync_tick')
    const oneWallet = (await target(one)).wallet
    expect(legacy.received.slice(before).filter((record) => record.from === oneWallet).map(({ version, status }) => [version, status])).toEqual([
      ['2', 403],
      [null, 200],
    ])
    const stored = legacy.store.snapshot()[String(app.appId)]
    expect(stored?.map((record) => record.key)).toEqual(['from-v2'])

    const to = await target(one)
    const request = await legacy.request(to, await delta(legacy.wallet, 'from-v1', 'written on the v1 node'), 1)
    const response = await post(to, request)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-kms-peer-binding')).toBeNull()
    expect(recoverMessageSigner(buildResponseMessage({ signature: request.headers['x-kms-signature']!, wallet: to.wallet }), response.headers.get('x-kms-peer-signature')!)).toBe(to.wallet)
    expect(await valueOn(one, 'from-v1')).toBe('written on the v1 node')
    await one.tick('sync_tick')
    expect(await valueOn(strict, 'from-v1')).toBe('written on the v1 node')
    expect(await valueOn(strict, 'from-v2')).toBe('written on node 1')
  })

  it('error: with MIN_SYNC_VERSION=2, v1 is refused from everyone, and the node never sends v1', async () => {
    const to = await target(strict)
    expect(await (await post(to, await legacy.request(to, { type: 'snapshot_request' }, 1))).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
    const stranger = await createRoguePeer()
    expect(await (await post(to, await stranger.prepare(to, { type: 'snapshot_request' }, undefined))).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
    await (await app.client(strict)).putData('from-strict', new TextEncoder().encode('x'))
    await strict.tick('sync_tick')
    const strictWallet = to.wallet
    const versions = legacy.received.filter((record) => record.from === strictWallet).map((record) => record.version)
    expect(versions.length).toBeGreaterThan(0)
    expect(versions.every((version) => version === '2')).toBe(true)
    // A v2 request of the v1 node itself is fine.
    const v2 = await legacy.request(to, { type: 'snapshot_request' }, 2)
    const answer = await post(to, v2)
    const raw = new Uint8Array(await answer.arrayBuffer())
    expect(answer.status).toBe(200)
    const binding = buildResponseBindingMessage({ subject: v2.headers['x-kms-signature']!, wallet: to.wallet, status: 200, bodySha256: computeContentSha256(raw) })
    expect(recoverMessageSigner(binding, answer.headers.get('x-kms-peer-binding')!)).toBe(to.wallet)
  })

  it('error: after a v2 exchange, a v1 or stripped request from that wallet is refused, and node 1 sends it no v1 again', async () => {
    const to = await target(one)
    // The "v1" node upgrades its requests: one verified v2 request and node 1 remembers it.
    expect((await post(to, await legacy.request(to, { type: 'snapshot_request' }, 2))).status).toBe(200)
    expect(await (await post(to, await legacy.request(to, { type: 'snapshot_request' }, 1))).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
    const v2 = await legacy.request(to, { type: 'snapshot_request' }, 2)
    const { 'x-sync-version': _version, 'x-app-content-sha256': _hash, ...stripped } = v2.headers
    expect(await (await post(to, { headers: stripped, body: v2.body })).json()).toEqual({ code: 'unauthorized', message: 'KMS wallet header does not match signature' })

    const before = legacy.received.length
    await (await app.client(one)).putData('after-upgrade', new TextEncoder().encode('y'))
    await one.tick('sync_tick')
    const since = legacy.received.slice(before).filter((record) => record.from === to.wallet)
    expect(since.length).toBeGreaterThan(0)
    expect(since.every((record) => record.version === '2' && record.status === 403)).toBe(true)
  })

  it('error: an old delta replayed under fresh headers is refused', async () => {
    const to = await target(one)
    const old = await legacy.request(to, await delta(legacy.wallet, 'replayed', 'old value'), 2)
    expect((await post(to, old)).status).toBe(200)
    // The host holds the old body and a fresh request of the same peer: the PoP covers only the fresh body.
    const fresh = await legacy.request(to, { type: 'snapshot_request' }, 2)
    const swapped = await post(to, { headers: fresh.headers, body: old.body })
    expect(swapped.status).toBe(403)
    expect(await swapped.json()).toEqual({ code: 'unauthorized', message: 'Request binding mismatch' })
    expect(swapped.headers.get('x-kms-peer-binding')).not.toBeNull()
    // The same headers again: the nonce is spent.
    expect(await (await post(to, old)).json()).toEqual({ code: 'unauthorized', message: 'Invalid or expired nonce' })
  })
})
