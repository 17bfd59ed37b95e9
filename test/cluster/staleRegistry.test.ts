/**
 * /sync fails closed on a stale peer cache (PROTOCOL §4.2 step 1a, issue 12 M3) on anvil: a
 * `dist/kms.mjs` node in Miniflare whose chain RPC goes through a proxy the test can block.
 * A registered peer gets the secret while the cache is fresh; once the registry stops it
 * and the node cannot read the registry, the node refuses every /sync as soon as its cache
 * is older than PEER_CACHE_TTL_SECONDS, and the stopped peer never gets the secret again.
 */
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateP384PrivateKey } from '../../core/crypto'
import { bytesToHex, parseHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { startFaultyProxy, type FaultyProxy } from '../helpers/faultyProxy'
import { cryptoRandom, registerKmsNode, startMiniflareNode, tickUntil, type TestNode } from '../helpers/kmsNodes'
import { createRoguePeer, type RoguePeer, type SyncTarget } from '../helpers/roguePeer'

const TTL_SECONDS = 4

let chain: DevChain
let rpc: FaultyProxy
let node: TestNode
let target: SyncTarget
let peer: RoguePeer
let peerInstanceId: number

/** A master_secret_request from the registered peer; resolves with status and body. */
async function askForSecret(): Promise<[number, unknown]> {
  const ephemeral = await generateP384PrivateKey(cryptoRandom)
  const request = await peer.prepare(target, { type: 'master_secret_request', sender_wallet: peer.wallet, ecdh_pubkey: bytesToHex(ephemeral.publicKey.der) }, undefined)
  const response = await fetch(`${target.url}/sync`, { method: 'POST', headers: request.headers, body: request.body })
  return [response.status, await response.json()]
}

beforeAll(async () => {
  chain = await startDevChain()
  rpc = await startFaultyProxy(chain.rpcUrl)
  node = await startMiniflareNode(chain, { MASTER_SECRET_HEX: '6e'.repeat(32), NODE_URL: rpc.url, PEER_CACHE_TTL_SECONDS: String(TTL_SECONDS), KMS_NODE_TICK_SECONDS: '1' })
  await registerKmsNode(chain, node)
  peer = await createRoguePeer()
  peerInstanceId = await chain.registerInstance({ teeWalletAddress: peer.wallet as Address, teePubkey: `0x${bytesToHex(peer.teeKey.publicKey.der)}` as Hex, instanceUrl: 'http://127.0.0.1:9' })
  await tickUntil(node, (status) => status.node.service_available)
  const { node: self } = await node.status()
  target = { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! }
}, 300_000)

afterAll(async () => {
  await node?.stop()
  await rpc?.close()
  await chain?.stop()
})

describe('/sync on a stale peer cache (§4.2 step 1a)', () => {
  it('error: once the cache is older than PEER_CACHE_TTL_SECONDS and the registry is unreadable, /sync refuses everyone; the stopped peer gets no secret', async () => {
    await node.tick('node_tick')
    // While the cache is fresh, the registered peer passes PoP and the peer cache and reaches
    // the document check (§4.5), which this hand-made v1 request cannot pass.
    expect(await askForSecret()).toEqual([403, { code: 'unauthorized', message: 'Peer attestation required' }])

    // The registry stops the peer, and the host cuts the node off the chain.
    await chain.setInstanceStatus(peerInstanceId, 1)
    rpc.isolated = true
    await new Promise((resolve) => setTimeout(resolve, (TTL_SECONDS + 1) * 1000))
    expect(await askForSecret()).toEqual([503, { code: 'service_unavailable', message: 'registry unreadable' }])

    // A tick cannot refresh the cache either: still refused.
    await node.tick('node_tick')
    expect(rpc.refused).toBeGreaterThan(0)
    expect(await askForSecret()).toEqual([503, { code: 'service_unavailable', message: 'registry unreadable' }])
    const snapshot = await peer.prepare(target, { type: 'snapshot_request' }, undefined)
    expect(await (await fetch(`${target.url}/sync`, { method: 'POST', headers: snapshot.headers, body: snapshot.body })).json()).toEqual({
      code: 'service_unavailable',
      message: 'registry unreadable',
    })

    // The chain is back: the cache is read again, and the stopped peer is not in it.
    rpc.isolated = false
    await node.tick('node_tick')
    expect(await askForSecret()).toEqual([403, { code: 'forbidden', message: `Peer ${peer.wallet} not found in PeerCache` }])
  })
})
