/**
 * Nodes that sync in process: real dev-mode `KmsNode`s (key ring, store, TEE stand-in, nonce
 * store), each with a real `PeerCache` over a fake registry that lists all of them, and a
 * `SyncClient` whose fetch routes `/nonce` and `/sync` to the other node's real handlers
 * (`functions/sync.ts`), errors mapped as the pipeline maps them. Nothing leaves the process.
 *
 * A `legacy` node plays a node from before sync binding v2 on the server side: it never sees
 * `X-Sync-Version` or `X-App-Content-SHA256` (a v1 node ignores both), so it verifies every
 * PoP as v1 and answers with `X-KMS-Peer-Signature`. Its own requests are made by hand
 * (`sendByHand`) with the v1 or v2 functions of core.
 */
import type { InstanceRecord, NovaAppRegistryReader } from '../../../core/chain'
import { PeerCache, SyncClient, type Peer } from '../../../core/cluster'
import {
  buildPeerAuthMessage,
  buildPeerAuthMessageV2,
  computeContentSha256,
  computeRequestDigest,
} from '../../../core/crypto'
import { utf8ToBytes, type Wallet } from '../../../core/encoding'
import { sealEnvelope } from '../../../core/envelope'
import { KmsError } from '../../../core/errors'
import type { KmsNode } from '../../../core/node'
import { attestation } from '../../../functions/attestation'
import { sync } from '../../../functions/sync'
import { errorResponse } from '../../../functions/_stages/errorMapper'
import { createDevNode, T0_MS } from '../functions/_helpers'
import { FakeClock } from '../../helpers/fakeClock'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

export const MASTER_HEX = '5a'.repeat(32)

export interface HarnessNode {
  name: string
  url: string
  node: KmsNode
  wallet: Wallet
  teePubkeyDer: Uint8Array
  peers: PeerCache
  client: SyncClient
  legacy: boolean
  /** Every request this node's server received, as it arrived (before any stripping). */
  received: Request[]
  /** Requests to this node get this answer instead, when set (a host at the peer's URL). */
  intercept?: (request: Request) => Promise<Response | undefined> | Response | undefined
  /** The harness's registry, which the secret request's fresh check reads (§7.7). */
  registry: Pick<NovaAppRegistryReader, 'getInstanceByWallet' | 'getVersion'>
}

export interface Harness {
  clock: FakeClock
  nodes: HarnessNode[]
  byName(name: string): HarnessNode
  peerOf(from: HarnessNode, to: HarnessNode): Peer
  /** The registry lists these instances; change it, then `refreshAll()`. */
  instances: Map<Wallet, InstanceRecord>
  refreshAll(): Promise<void>
  fetch: typeof fetch
}

export interface NodeSpec {
  name: string
  legacy?: boolean
  env?: Record<string, string>
}

/** The view of a node its `/sync` handler reads; the peer cache is the harness's. */
function syncView(entry: HarnessNode): KmsNode {
  // The handler reads a `Pick` of KmsNode; this object holds exactly those fields.
  const { node } = entry
  const view = {
    keys: node.keys, identity: node.identity, nonces: node.nonces, clock: node.clock, config: node.config, tee: node.tee,
    store: node.store, random: node.random, admission: node.admission, log: node.log, peers: entry.peers, syncClient: entry.client,
    metrics: node.metrics, peerAttestationPolicy: () => node.peerAttestationPolicy(), watermarks: node.watermarks,
    chain: { novaAppRegistry: entry.registry }, epochStatus: node.epochStatus, audit: node.audit, signatures: node.signatures,
  }
  return view as unknown as KmsNode
}

async function answer(entry: HarnessNode, request: Request): Promise<Response> {
  entry.received.push(request.clone())
  const intercepted = await entry.intercept?.(request)
  if (intercepted !== undefined) return intercepted
  const path = new URL(request.url).pathname
  if (path === '/nonce') return new Response(JSON.stringify({ nonce: entry.node.nonces.issue() }), { headers: { 'content-type': 'application/json' } })
  if (path === '/attestation') return attestation.handle(request, entry.node)
  if (path !== '/sync') return new Response('{"code":"not_found","message":"Not found"}', { status: 404 })
  let forwarded = request
  if (entry.legacy) {
    const headers = new Headers(request.headers)
    headers.delete('x-sync-version')
    headers.delete('x-app-content-sha256')
    forwarded = new Request(request.url, { method: request.method, headers, body: await request.arrayBuffer() })
  }
  try {
    return await sync.handle(forwarded, syncView(entry))
  } catch (error) {
    if (error instanceof KmsError) return errorResponse(error)
    throw error
  }
}

export async function createHarness(specs: readonly NodeSpec[], options: { seed?: number } = {}): Promise<Harness> {
  const clock = new FakeClock(T0_MS)
  const instances = new Map<Wallet, InstanceRecord>()
  const nodes: HarnessNode[] = []
  const route: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const target = nodes.find((entry) => request.url.startsWith(`${entry.url}/`))
    if (target === undefined) throw new TypeError(`no node at ${request.url}`)
    return answer(target, request)
  }
  const registry = {
    getActiveInstances: async () => [...instances.keys()],
    getInstanceByWallet: async (wallet: Wallet) => instances.get(wallet),
    getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
  }
  let seed = options.seed ?? 11
  for (const spec of specs) {
    const { node } = await createDevNode({ clock, seed: seed++, env: { MASTER_SECRET_HEX: MASTER_HEX, ...spec.env } })
    const wallet = node.wallet!
    const teePubkeyDer = await node.tee.getEncryptionPublicKey()
    const url = `http://${spec.name}.test`
    const peers = new PeerCache({ registry, kmsAppId: 49, mode: 'dev', clock, ttlSeconds: node.config.peerCacheTtlSeconds })
    const client = new SyncClient({
      fetch: route,
      tee: node.tee,
      clock,
      random: node.random,
      ownWallet: () => node.wallet,
      peerAttestation: { policy: () => node.peerAttestationPolicy() },
      signSyncBody: (envelope, nonce) => node.keys.signSyncBody(envelope, nonce),
      store: node.store,
      canDecrypt: node.keys.canDecrypt,
      minSyncVersion: node.config.minSyncVersion,
      maxSyncPayloadBytes: node.config.maxSyncPayloadBytes,
      peerWallets: () => peers.peers.map((peer) => peer.wallet),
    })
    instances.set(wallet, {
      instanceId: nodes.length + 1, appId: 49, versionId: 1, operator: wallet, instanceUrl: url, teePubkey: teePubkeyDer,
      teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1,
    })
    // The fake registry's versions carry only the fields the peer cache and the fresh check read.
    nodes.push({ name: spec.name, url, node, wallet, teePubkeyDer, peers, client, legacy: spec.legacy === true, received: [], registry: registry as unknown as HarnessNode['registry'] })
  }
  const harness: Harness = {
    clock,
    nodes,
    instances,
    fetch: route,
    byName: (name) => nodes.find((entry) => entry.name === name)!,
    peerOf: (from, to) => from.peers.find(to.wallet)!,
    refreshAll: async () => {
      for (const entry of nodes) await entry.peers.refresh()
    },
  }
  await harness.refreshAll()
  return harness
}

export interface HandRequest {
  headers: Record<string, string>
  body: string
}

/**
 * A /sync request built by hand from core functions, as a node of either version makes it
 * (§4.1, §3.6): `from` signs, seals to `to` and MACs. `nonce` is fetched from `to` unless given.
 */
export async function buildByHand(
  harness: Harness,
  from: HarnessNode,
  to: HarnessNode,
  payload: Record<string, unknown>,
  options: { version: 1 | 2; nonce?: string },
): Promise<HandRequest> {
  const nonce = options.nonce ?? ((await (await harness.fetch(`${to.url}/nonce`)).json()) as { nonce: string }).nonce
  const timestamp = Math.floor(harness.clock.nowMs() / 1000)
  const envelope = await sealEnvelope(from.node.tee, { sender_wallet: from.wallet, ...payload }, to.teePubkeyDer)
  const body = JSON.stringify(envelope)
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-kms-nonce': nonce, 'x-kms-timestamp': String(timestamp), 'x-kms-wallet': from.wallet }
  if (options.version === 2) {
    const contentSha256 = computeContentSha256(utf8ToBytes(body))
    const requestDigest = computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 })
    headers['x-kms-signature'] = await from.node.tee.signMessage(buildPeerAuthMessageV2({ nonce, wallet: to.wallet, timestamp, requestDigest }))
    headers['x-sync-version'] = '2'
    headers['x-app-content-sha256'] = contentSha256
    headers['x-sync-signature'] = (await from.node.keys.signSyncBody(envelope, nonce))!
  } else {
    headers['x-kms-signature'] = await from.node.tee.signMessage(buildPeerAuthMessage({ nonce, wallet: to.wallet, timestamp }))
    headers['x-sync-signature'] = (await from.node.keys.signSyncBody(envelope))!
  }
  return { headers, body }
}

export async function post(harness: Harness, to: HarnessNode, request: HandRequest): Promise<Response> {
  return harness.fetch(`${to.url}/sync`, { method: 'POST', headers: request.headers, body: request.body })
}

/** The versions of the /sync requests `entry` received, in order. */
export function versionsReceived(entry: HarnessNode, from?: Wallet): (1 | 2)[] {
  return entry.received
    .filter((request) => new URL(request.url).pathname === '/sync' && (from === undefined || request.headers.get('x-kms-wallet') === from))
    .map((request) => (request.headers.get('x-sync-version') === '2' ? 2 : 1))
}
