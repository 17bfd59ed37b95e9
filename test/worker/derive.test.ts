/**
 * The derive flow end to end: `dist/kms.mjs` in Miniflare (workerd) against anvil with the
 * real contracts (issue 3). A registered app authenticates with PoP and gets its keys;
 * every registry refusal gets its PROTOCOL §3.3 message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateWalletPrivateKey } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { clientFor, cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode, refusal } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'

let chain: DevChain
let node: TestNode
let app: TestApp


beforeAll(async () => {
  chain = await startDevChain()
  node = await startMiniflareNode(chain, { MASTER_SECRET_HEX })
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available)
  app = await registerTestApp(chain)
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('derive in Miniflare over dist/kms.mjs', () => {
  it('behavior: the node bootstrapped alone: generated secret, committed on-chain, available', async () => {
    const status = await node.status()
    expect(status.node).toMatchObject({ service_available: true, unavailable_reason: '', is_operator: true, mode: 'dev', master_secret: { state: 'generated', synced_from: null } })
    expect(status.cluster.total_instances).toBe(1)
  })

  it('behavior: a registered app derives a key, the same inputs giving the same key', async () => {
    const client = await app.client(node)
    const first = await client.derive({ path: 'wallet/root' })
    const second = await client.derive({ path: 'wallet/root' })
    const other = await client.derive({ path: 'wallet/root', context: 'session-a' })
    expect(first.appId).toBe(app.appId)
    expect(first.key).toHaveLength(32)
    expect(bytesToHex(second.key)).toBe(bytesToHex(first.key))
    expect(bytesToHex(other.key)).not.toBe(bytesToHex(first.key))
    expect((await client.derive({ path: 'x', length: 16 })).key).toHaveLength(16)
  })

  it('error: an instance of the KMS app itself cannot call /kms/* (L2: a node document never opens app routes)', async () => {
    // The §5.7 derive vectors are for app 49, the KMS app; they are checked in process
    // (test/unit/crypto/deriveAppKey.test.ts), since no KMS instance may derive over HTTP.
    const kmsApp = await registerTestApp(chain, { appId: 49, instanceUrl: 'not a url', existingApp: true })
    const client = await kmsApp.client(node)
    expect(await refusal(() => client.derive({ path: 'wallet/root' }))).toEqual({ status: 403, code: 'forbidden', message: 'KMS instances cannot call /kms/*' })
  })

  it('error: a path and context over 1024 bytes together are 400, never 500 (L1)', async () => {
    const client = await app.client(node)
    const refused = await refusal(() => client.derive({ path: 'p'.repeat(600), context: 'c'.repeat(600) }))
    expect(refused).toEqual({ status: 400, code: 'bad_request', message: "'path' and 'context' must be at most 1024 bytes together" })
    expect((await client.derive({ path: 'p'.repeat(512), context: 'c'.repeat(511) })).key).toHaveLength(32)
  })

  it('error: derive input checks (conformance 56)', async () => {
    const client = await app.client(node)
    const cases: [Record<string, unknown>, string][] = [
      [{}, "Missing 'path' field"],
      [{ path: '   ' }, "Missing 'path' field"],
      [{ path: 'p', context: 5 }, "'context' must be a string"],
      [{ path: 'p', context: null }, "'context' must be a string"],
      [{ path: 'p', length: true }, "'length' must be an integer"],
      [{ path: 'p', length: '3x' }, "'length' must be an integer"],
      [{ path: 'p', length: 0 }, "'length' must be in range 1..1024"],
      [{ path: 'p', length: 1025 }, "'length' must be in range 1..1024"],
    ]
    for (const [inner, message] of cases) {
      expect(await refusal(() => client.request('POST', '/kms/derive', inner))).toEqual({ status: 400, code: 'bad_request', message })
    }
    expect((await client.request('POST', '/kms/derive', { path: 'p', length: '32' }))['length']).toBe(32)
  })

  it('error: registry refusals get 403 with the PROTOCOL message (conformance 33, 34)', async () => {
    const ghost = await clientFor(node, { walletKey: generateWalletPrivateKey(cryptoRandom), teeKey: app.teeKey })
    expect(await refusal(() => ghost.derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Instance not found' })

    const stopped = await registerTestApp(chain)
    await chain.setInstanceStatus(stopped.instanceId, 1)
    expect(await refusal(async () => (await stopped.client(node)).derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Instance not active' })

    const unverified = await registerTestApp(chain, { zkVerified: false })
    expect(await refusal(async () => (await unverified.client(node)).derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Instance not zkVerified' })

    const revoked = await registerTestApp(chain)
    await chain.setVersionStatus(revoked.appId, revoked.versionId, 2)
    expect(await refusal(async () => (await revoked.client(node)).derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Version revoked' })

    const inactive = await registerTestApp(chain)
    await chain.setAppStatus(inactive.appId, 1)
    expect(await refusal(async () => (await inactive.client(node)).derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'App not active' })

    const deprecated = await registerTestApp(chain)
    await chain.setVersionStatus(deprecated.appId, deprecated.versionId, 1)
    expect((await (await deprecated.client(node)).derive({ path: 'p' })).key).toHaveLength(32)
  })

  it('error: a plaintext body gets 400 and a replayed PoP gets 403 (conformance 21, 49)', async () => {
    const client = await app.client(node)
    const pop = await client.popHeaders()
    const plaintext = await node.fetch('/kms/derive', { method: 'POST', headers: { ...pop }, body: JSON.stringify({ path: 'p' }) })
    expect(plaintext.status).toBe(400)
    expect(await plaintext.json()).toEqual({ code: 'bad_request', message: 'Request must be E2E encrypted. Plaintext fallback is disabled.' })

    const fresh = await client.popHeaders()
    const body = JSON.stringify(await client.sealRequest({ path: 'p' }))
    const first = await node.fetch('/kms/derive', { method: 'POST', headers: fresh, body })
    expect(first.status).toBe(200)
    expect(first.headers.get('x-kms-response-signature')).toMatch(/^0x[0-9a-f]{130}$/)
    const replay = await node.fetch('/kms/derive', { method: 'POST', headers: fresh, body })
    expect(replay.status).toBe(403)
    expect(await replay.json()).toEqual({ code: 'unauthorized', message: 'Invalid or expired nonce' })
    expect(replay.headers.get('x-kms-response-signature')).toBeNull()
  })

  it('error: missing or partial PoP headers; x-tee-wallet is ignored (conformance 28, 29)', async () => {
    const client = await app.client(node)
    const pop = await client.popHeaders()
    const body = JSON.stringify(await client.sealRequest({ path: 'p' }))
    const headerSets: Record<string, string>[] = [{}, { 'x-tee-wallet': app.wallet }, { 'x-app-signature': pop['x-app-signature'], 'x-app-nonce': pop['x-app-nonce'] }]
    for (const headers of headerSets) {
      const response = await node.fetch('/kms/derive', { method: 'POST', headers, body })
      expect(response.status).toBe(403)
      expect(await response.json()).toEqual({ code: 'unauthorized', message: 'Missing PoP authentication headers' })
    }
  })
})
