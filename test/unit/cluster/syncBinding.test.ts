/**
 * Sync binding v2 (PROTOCOL §3.6, §4.1, §4.2) in process: real dev-mode nodes, the real
 * `/sync` handler and the real `SyncClient`, with a "legacy" node that answers as a node from
 * before v2 does. Also the stale-cache refusal (§4.2 step 1a) and the downgrade rules.
 */
import { describe, expect, it } from 'vitest'
import { SyncVersions } from '../../../core/cluster'
import {
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  buildResponseMessage,
  computeContentSha256,
  computeRequestDigest,
  recoverMessageSigner,
} from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { buildByHand, createHarness, post, versionsReceived, type Harness, type HarnessNode } from './_syncHarness'

const APP = 1000
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

async function write(entry: HarnessNode, key: string, value: string): Promise<void> {
  await entry.node.appValues.put(APP, key, bytes(value), 0)
}

async function read(entry: HarnessNode, key: string): Promise<string | undefined> {
  return entry.node.appValues.get(APP, key).then(
    (found) => new TextDecoder().decode(found.value),
    () => undefined,
  )
}

async function push(harness: Harness, from: HarnessNode, to: HarnessNode): Promise<Record<string, unknown>> {
  return from.client.pushDelta(harness.peerOf(from, to), from.node.store.selectDelta(0))
}

async function refusalOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  throw new Error('expected a failure')
}

/** The body and status of an answer, and whether its binding recovers to `signer` over them. */
async function bound(response: Response, subject: string, signer: HarnessNode): Promise<{ status: number; body: unknown; bound: boolean; signed: boolean }> {
  const raw = new Uint8Array(await response.arrayBuffer())
  const binding = response.headers.get('x-kms-peer-binding')
  const message = buildResponseBindingMessage({ subject, wallet: signer.wallet, status: response.status, bodySha256: computeContentSha256(raw) })
  return {
    status: response.status,
    body: JSON.parse(new TextDecoder().decode(raw)) as unknown,
    bound: binding !== null && recoverMessageSigner(message, binding) === signer.wallet,
    signed: response.headers.get('x-kms-peer-signature') !== null,
  }
}

describe('sync binding v2 between two v2 nodes (§3.6)', () => {
  it('behavior: a push goes as v2: version and content headers, v2 PoP over POST /sync and the exact body, a bound answer; both sides learn v2', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    await write(a, 'k', 'v2 value')
    const counts = await push(harness, a, b)
    expect(counts).toMatchObject({ status: 'ok', merged: 1 })
    expect(await read(b, 'k')).toBe('v2 value')
    const [request] = b.received.filter((received) => received.url.endsWith('/sync'))
    expect(request!.headers.get('x-sync-version')).toBe('2')
    expect(request!.headers.get('x-app-content-sha256')).toBe(computeContentSha256(new Uint8Array(await request!.arrayBuffer())))
    expect(a.client.versions.isV2(b.wallet)).toBe(true)
    expect(b.client.versions.isV2(a.wallet)).toBe(true)
  })

  it('behavior: every answer after authentication is bound (errors too); an error before it is not', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    const unknown = await buildByHand(harness, a, b, { type: 'gossip' }, { version: 2 })
    const answer = await bound(await post(harness, b, unknown), unknown.headers['x-kms-signature']!, b)
    expect(answer).toEqual({ status: 400, body: { code: 'bad_request', message: 'Unknown sync type: gossip' }, bound: true, signed: false })

    const ok = await buildByHand(harness, a, b, { type: 'snapshot_request', max_bytes: 65_536 }, { version: 2 })
    const success = await bound(await post(harness, b, ok), ok.headers['x-kms-signature']!, b)
    expect(success).toMatchObject({ status: 200, bound: true, signed: false })

    // The same nonce again fails PoP: nothing is authenticated, nothing is bound.
    const replayed = await post(harness, b, ok)
    expect(replayed.status).toBe(403)
    expect(replayed.headers.get('x-kms-peer-binding')).toBeNull()
  })

  it('error: the v2 request checks, in order: version, content hash header, PoP over the digest, then the body against the header', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    const snapshot = { type: 'snapshot_request' }
    const request = await buildByHand(harness, a, b, snapshot, { version: 2 })
    const refused = async (headers: Record<string, string>, body = request.body): Promise<unknown> => (await post(harness, b, { headers, body })).json()

    expect(await refused({ ...request.headers, 'x-sync-version': '3' })).toEqual({ code: 'bad_request', message: 'Unsupported sync version' })
    const { 'x-app-content-sha256': _omitted, ...noHash } = request.headers
    expect(await refused(noHash)).toEqual({ code: 'unauthorized', message: 'Missing x-app-content-sha256' })
    // A hash that is not the one signed recovers another signer than X-KMS-Wallet.
    const fresh = await buildByHand(harness, a, b, snapshot, { version: 2 })
    expect(await refused({ ...fresh.headers, 'x-app-content-sha256': '00'.repeat(32) })).toEqual({ code: 'unauthorized', message: 'Request binding mismatch' })
    const { 'x-kms-wallet': _wallet, ...noWallet } = (await buildByHand(harness, a, b, snapshot, { version: 2 })).headers
    expect(await refused(noWallet)).toEqual({ code: 'unauthorized', message: 'Missing x-kms-wallet' })

    // Signed over the announced hash, but another body: refused after authentication, so bound.
    const swapped = await buildByHand(harness, a, b, snapshot, { version: 2 })
    const other = await buildByHand(harness, a, b, { type: 'snapshot_request', max_bytes: 1 }, { version: 2 })
    const answer = await bound(await post(harness, b, { headers: swapped.headers, body: other.body }), swapped.headers['x-kms-signature']!, b)
    expect(answer).toEqual({ status: 403, body: { code: 'unauthorized', message: 'Request binding mismatch' }, bound: true, signed: false })
  })

  it('error: an old delta replayed under fresh headers is refused: the MAC covers the nonce, the PoP the body', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    await write(a, 'k', 'old')
    const delta = { type: 'delta', data: a.node.store.selectDelta(0) }
    const original = await buildByHand(harness, a, b, delta, { version: 2 })
    expect((await post(harness, b, original)).status).toBe(200)

    // The peer itself signing a fresh PoP over the old body, with the old MAC: the envelope's
    // replay memory refuses it here; once that memory has rotated (4096 envelopes), the MAC
    // does, since it covered the old nonce (authenticatePeerV2.test.ts).
    const nonce = ((await (await harness.fetch(`${b.url}/nonce`)).json()) as { nonce: string }).nonce
    const timestamp = Math.floor(harness.clock.nowMs() / 1000)
    const contentSha256 = original.headers['x-app-content-sha256']!
    const replay = {
      headers: {
        ...original.headers,
        'x-kms-nonce': nonce,
        'x-kms-timestamp': String(timestamp),
        'x-kms-signature': await a.node.tee.signMessage(
          buildPeerAuthMessageV2({ nonce, wallet: b.wallet, timestamp, requestDigest: computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 }) }),
        ),
      },
      body: original.body,
    }
    expect((await post(harness, b, replay)).status).toBe(400)

    // The host, holding a fresh request of a, swaps in the old body: the PoP does not cover it.
    const freshRequest = await buildByHand(harness, a, b, { type: 'snapshot_request' }, { version: 2 })
    expect(await (await post(harness, b, { headers: freshRequest.headers, body: original.body })).json()).toEqual({
      code: 'unauthorized',
      message: 'Request binding mismatch',
    })
  })
})

describe('a mixed v1/v2 cluster during a rolling upgrade (§3.6)', () => {
  it('behavior: a v2 node pushes to a v1 node: v2 first, then one v1 retry after its "wallet header" refusal; the v1 node merges', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'old', legacy: true }])
    const [a, old] = harness.nodes as [HarnessNode, HarnessNode]
    await write(a, 'k', 'for the old node')
    expect(await push(harness, a, old)).toMatchObject({ status: 'ok', merged: 1 })
    expect(await read(old, 'k')).toBe('for the old node')
    expect(versionsReceived(old, a.wallet)).toEqual([2, 1])
    // A v1 answer teaches nothing: the next push tries v2 first again.
    expect(a.client.versions.isV2(old.wallet)).toBe(false)
    await write(a, 'k2', 'again')
    await push(harness, a, old)
    expect(versionsReceived(old, a.wallet)).toEqual([2, 1, 2, 1])
    // Snapshots work the same way.
    await write(old, 'from-old', 'x')
    expect((await a.client.pullSnapshotCounts(harness.peerOf(a, old))).merged).toBeGreaterThan(0)
    // The secret does not: the stand-in runs today's /sync, which asks every secret request
    // for the requester's document (§4.5), and a v1 retry carries none (a real v1 node would
    // not ask). So a joiner gets the secret from a v1 node only, never a v1 node from us.
    await expect(a.client.requestMasterSecret(harness.peerOf(a, old))).rejects.toThrow('peer answered 403')
  })

  it('behavior: a v1 request from a node that never spoke v2 is served as before, with X-KMS-Peer-Signature', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'old', legacy: true }])
    const [a, old] = harness.nodes as [HarnessNode, HarnessNode]
    await write(old, 'written-on-old', 'v1 push')
    const request = await buildByHand(harness, old, a, { type: 'delta', data: old.node.store.selectDelta(0) }, { version: 1 })
    const response = await post(harness, a, request)
    expect(response.status).toBe(200)
    expect(response.headers.get('x-kms-peer-binding')).toBeNull()
    const signature = response.headers.get('x-kms-peer-signature')!
    expect(recoverMessageSigner(buildResponseMessage({ signature: request.headers['x-kms-signature']!, wallet: a.wallet }), signature)).toBe(a.wallet)
    expect(await read(a, 'written-on-old')).toBe('v1 push')
  })

  it('error: after a verified v2 request from W, a v1 or stripped request from W is refused', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'w' }])
    const [a, w] = harness.nodes as [HarnessNode, HarnessNode]
    expect((await post(harness, a, await buildByHand(harness, w, a, { type: 'snapshot_request' }, { version: 1 }))).status).toBe(200)
    expect((await post(harness, a, await buildByHand(harness, w, a, { type: 'snapshot_request' }, { version: 2 }))).status).toBe(200)
    expect(a.client.versions.isV2(w.wallet)).toBe(true)

    const v1 = await buildByHand(harness, w, a, { type: 'snapshot_request' }, { version: 1 })
    expect(await (await post(harness, a, v1)).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
    // Stripping the version of a v2 request leaves a PoP that no v1 check accepts.
    const v2 = await buildByHand(harness, w, a, { type: 'snapshot_request' }, { version: 2 })
    const { 'x-sync-version': _version, 'x-app-content-sha256': _hash, ...stripped } = v2.headers
    expect(await (await post(harness, a, { headers: stripped, body: v2.body })).json()).toEqual({
      code: 'unauthorized',
      message: 'KMS wallet header does not match signature',
    })
    // A v1 request without the wallet header recovers the real signer, and is still refused.
    const unnamed = await buildByHand(harness, w, a, { type: 'snapshot_request' }, { version: 1 })
    const { 'x-kms-wallet': _wallet, ...anonymous } = unnamed.headers
    expect(await (await post(harness, a, { headers: anonymous, body: unnamed.body })).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
  })

  it('error: after a verified v2 answer from P, the requester never sends v1 to P, whatever P or the host answers', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    await write(a, 'k', 'v')
    await push(harness, a, b)
    expect(a.client.versions.isV2(b.wallet)).toBe(true)
    // The host now answers at b's URL as a v1 node would (or b were rolled back).
    b.legacy = true
    expect(await refusalOf(() => push(harness, a, b))).toBe('peer refused v2 and v1 is not allowed to it')
    expect(versionsReceived(b, a.wallet)).toEqual([2, 2])
  })

  it('error: MIN_SYNC_VERSION=2 refuses v1 from everyone before spending a nonce, and never sends v1', async () => {
    const harness = await createHarness([{ name: 'strict', env: { MIN_SYNC_VERSION: '2' } }, { name: 'old', legacy: true }])
    const [strict, old] = harness.nodes as [HarnessNode, HarnessNode]
    const v1 = await buildByHand(harness, old, strict, { type: 'snapshot_request' }, { version: 1 })
    expect(await (await post(harness, strict, v1)).json()).toEqual({ code: 'unauthorized', message: 'Sync binding required' })
    expect(strict.node.nonces.consume(v1.headers['x-kms-nonce']!)).toBe(true)

    await write(strict, 'k', 'v')
    expect(await refusalOf(() => push(harness, strict, old))).toBe('peer refused v2 and v1 is not allowed to it')
    expect(versionsReceived(old, strict.wallet)).toEqual([2])
  })

  it('error: an unbound answer is never trusted: a 2xx without binding, a binding by another wallet, a forged error', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }, { name: 'c' }])
    const [a, b, c] = harness.nodes as [HarnessNode, HarnessNode, HarnessNode]
    await write(a, 'k', 'v')
    let mode: 'strip' | 'foreign' | 'forged-404' = 'strip'
    b.intercept = async (request) => {
      if (!request.url.endsWith('/sync')) return undefined
      b.intercept = undefined
      const real = await harness.fetch(request.url, { method: 'POST', headers: request.headers, body: await request.arrayBuffer() })
      b.intercept = intercept
      const body = new Uint8Array(await real.arrayBuffer())
      const headers = new Headers(real.headers)
      if (mode === 'strip') headers.delete('x-kms-peer-binding')
      if (mode === 'foreign') {
        const message = buildResponseBindingMessage({ subject: request.headers.get('x-kms-signature')!, wallet: b.wallet, status: real.status, bodySha256: computeContentSha256(body) })
        headers.set('x-kms-peer-binding', await c.node.tee.signMessage(message))
      }
      if (mode === 'forged-404') return new Response('{"code":"not_found","message":"Key not found"}', { status: 404 })
      return new Response(body, { status: real.status, headers })
    }
    const intercept = b.intercept
    expect(await refusalOf(() => push(harness, a, b))).toBe('peer answer is not bound')
    mode = 'foreign'
    expect(await refusalOf(() => push(harness, a, b))).toBe('peer answer is not bound')
    mode = 'forged-404'
    expect(await refusalOf(() => push(harness, a, b))).toBe('peer answered 404 without a binding')
    // None of these taught a version, and none led to a v1 request.
    expect(a.client.versions.isV2(b.wallet)).toBe(false)
    expect(versionsReceived(b, a.wallet).filter((version) => version === 1)).toEqual([])
  })
})

describe('/sync fails closed on a stale peer cache (§4.2 step 1a)', () => {
  it('error: once the cache is older than PEER_CACHE_TTL_SECONDS, every /sync is 503 registry unreadable, the secret request too', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    expect(await a.client.requestMasterSecret(harness.peerOf(a, b))).toHaveLength(32)
    harness.clock.advanceSeconds(180)
    expect(b.peers.isStale()).toBe(true)
    expect(await refusalOf(() => a.client.requestMasterSecret(harness.peerOf(a, b)))).toBe('peer answered 503 without a binding')
    const v1 = await buildByHand(harness, a, b, { type: 'snapshot_request' }, { version: 1 })
    expect(await (await post(harness, b, v1)).json()).toEqual({ code: 'service_unavailable', message: 'registry unreadable' })
    // The nonce was not spent: nothing ran past the refusal.
    expect(b.node.nonces.consume(v1.headers['x-kms-nonce']!)).toBe(true)
    await b.peers.refresh()
    expect(await a.client.requestMasterSecret(harness.peerOf(a, b))).toHaveLength(32)
  })

  it('error: a peer the registry stopped gets nothing once the node has read the registry again', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    harness.instances.set(a.wallet, { ...harness.instances.get(a.wallet)!, status: 1 })
    harness.clock.advanceSeconds(180)
    expect(await refusalOf(() => a.client.requestMasterSecret(harness.peerOf(a, b)))).toBe('peer answered 503 without a binding')
    await b.peers.refresh()
    const request = await buildByHand(harness, a, b, { type: 'master_secret_request', ecdh_pubkey: 'aa' }, { version: 1 })
    expect(await (await post(harness, b, request)).json()).toEqual({ code: 'forbidden', message: `Peer ${a.wallet} not found in PeerCache` })
  })
})

describe('the version memory is bounded by the peer cache (§3.6)', () => {
  const wallet = (n: number): Wallet => `0x${n.toString(16).padStart(40, '0')}`

  it('behavior: past twice the cache size, the wallets no longer cached are dropped; one briefly missing keeps its flag', () => {
    let cached = [wallet(1), wallet(2), wallet(3)]
    const versions = new SyncVersions(() => cached)
    versions.markV2(wallet(1))
    versions.markV2(wallet(2))
    // wallet 2 misses from one refresh: the memory is within twice the cache, nothing goes.
    cached = [wallet(1), wallet(3)]
    versions.markV2(wallet(3))
    expect(versions.isV2(wallet(2))).toBe(true)
    // Three cache members leave for one new one: the memory shrinks to the cache.
    cached = [wallet(4)]
    versions.markV2(wallet(4))
    expect([1, 2, 3, 4].map((n) => versions.isV2(wallet(n)))).toEqual([false, false, false, true])
    expect(versions.size).toBe(1)
  })

  it('behavior: the server flags a v2 peer only once it passed the peer cache check', async () => {
    const harness = await createHarness([{ name: 'a' }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    harness.instances.delete(b.wallet)
    await a.peers.refresh()
    const request = await buildByHand(harness, b, a, { type: 'snapshot_request' }, { version: 2 })
    expect(await (await post(harness, a, request)).json()).toEqual({ code: 'forbidden', message: `Peer ${b.wallet} not found in PeerCache` })
    expect(a.client.versions.size).toBe(0)
  })
})
