/**
 * Each function alone (issue 10): every file of `functions/` is built as the whole worker,
 * `{ fetch: fn.fetch, scheduled: scheduledTick }`, loaded in Miniflare against anvil with the
 * real contracts, and answers a real request of its route correctly, with the right error
 * for a bad one and 404 for any other route. `serve([nonce, derive])` is a working
 * two-route worker.
 */
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyNitroAttestation } from '../../core/attestation'
import { SyncClient, type Peer } from '../../core/cluster'
import { bytesToBase64, bytesToHex, parseBase64, parseHex } from '../../core/encoding'
import { KeyRing } from '../../core/keys'
import { createLocalTee, devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, refusal, registerKmsNode, registerTestApp, startMiniflareNode, systemClock, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import type { Address, Hex } from 'viem'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const OUT_DIR = '.test-builds/functions'
const MASTER_SECRET_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
const CA_FINGERPRINT = 'a5864b86b624199180526f4469baf26ed213117b13edc4badc562fee52fd6a7a'

/** Builds a worker whose whole source is `source` (resolved from the repository root). */
async function buildWorker(name: string, source: string): Promise<string> {
  const outfile = `${OUT_DIR}/${name}.mjs`
  await build({
    stdin: { contents: source, resolveDir: ROOT, sourcefile: `${name}.ts`, loader: 'ts' },
    outfile: `${ROOT}${outfile}`,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    logLevel: 'warning',
  })
  return outfile
}

/**
 * One function of `functions/` as the whole worker. An app function cannot serve alone in
 * practice: PoP needs a nonce from the same node, and registering the node needs its
 * teePubkey. So those get `nonce` and `status` beside them, each through its own standalone
 * `fetch`; every other path goes to the function under test.
 */
function aloneSource(exportName: string, file: string, options: { companions: boolean }): string {
  if (!options.companions) {
    return [
      `import { ${exportName} } from './functions/${file}'`,
      `import { scheduledTick } from './functions/_serve'`,
      `export default { fetch: ${exportName}.fetch, scheduled: scheduledTick }`,
    ].join('\n')
  }
  return [
    `import { ${exportName} } from './functions/${file}'`,
    `import { nonce } from './functions/nonce'`,
    `import { status } from './functions/status'`,
    `import { scheduledTick } from './functions/_serve'`,
    `const companions = { '/nonce': nonce, '/status': status }`,
    `const fetch = (request, env, context) => (companions[new URL(request.url).pathname] ?? ${exportName}).fetch(request, env, context)`,
    `export default { fetch, scheduled: scheduledTick }`,
  ].join('\n')
}

let chain: DevChain
let app: TestApp
const running: TestNode[] = []

/** Starts `script` as a node with the §5.7 master secret; `ready` registers it and ticks until it serves. */
async function startAlone(script: string, options: { ready: boolean }): Promise<TestNode> {
  const node = await startMiniflareNode(chain, { MASTER_SECRET_HEX }, script)
  running.push(node)
  if (options.ready) {
    await registerKmsNode(chain, node)
    await tickUntil(node, (status) => status.node.service_available)
  }
  return node
}

/** The `{code,message}` body of an error answer. */
async function errorBody(response: Response): Promise<unknown> {
  return response.json()
}

/** The message a rejected promise carries (fails if it resolves). */
async function refusalOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    return error instanceof Error ? `${error.message} ${String((error as { cause?: unknown }).cause ?? '')}` : String(error)
  }
  throw new Error('expected a refusal')
}

const scripts: Record<string, string> = {}

beforeAll(async () => {
  mkdirSync(`${ROOT}${OUT_DIR}`, { recursive: true })
  const alone: [string, string, boolean][] = [
    ['root', 'root', false],
    ['health', 'health', false],
    ['status', 'status', false],
    ['nonce', 'nonce', false],
    ['nodes', 'nodes', false],
    ['attestation', 'attestation', false],
    ['metrics', 'metrics', false],
    ['derive', 'derive', true],
    ['data', 'data', true],
    ['signCert', 'sign_cert', true],
    ['ca', 'ca', true],
  ]
  for (const [exportName, file, companions] of alone) scripts[exportName] = await buildWorker(exportName, aloneSource(exportName, file, { companions }))
  scripts['syncTrio'] = await buildWorker(
    'syncTrio',
    [
      `import { nonce, status, sync } from './functions'`,
      `import { scheduledTick } from './functions/_serve'`,
      `const byPath = { '/nonce': nonce, '/status': status, '/sync': sync }`,
      `export default { fetch: (request, env, context) => (byPath[new URL(request.url).pathname] ?? sync).fetch(request, env, context), scheduled: scheduledTick }`,
    ].join('\n'),
  )
  scripts['pair'] = await buildWorker(
    'pair',
    [`import { nonce, derive, status, serve } from './functions'`, `export default serve([nonce, derive, status])`].join('\n'),
  )
  chain = await startDevChain()
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  for (const node of running) await node.stop().catch(() => undefined)
  await chain?.stop()
})

describe('each function alone is a working worker', () => {
  it('behavior: root answers GET and HEAD, refuses POST with 405 and Allow, and 404s every other path', async () => {
    const node = await startAlone(scripts['root']!, { ready: false })
    const body = (await (await node.fetch('/')).json()) as Record<string, unknown>
    expect(body).toMatchObject({ service: 'Nova KMS', mode: 'dev' })
    const head = await node.fetch('/', { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(await head.text()).toBe('')
    const post = await node.fetch('/', { method: 'POST' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    const other = await node.fetch('/status')
    expect(other.status).toBe(404)
    expect(await errorBody(other)).toEqual({ code: 'not_found', message: 'Not found' })
    expect(other.headers.get('access-control-allow-origin')).toBe('*')
  })

  it('behavior: health answers while the node is unavailable; the preflight is 204 on any path', async () => {
    const node = await startAlone(scripts['health']!, { ready: false })
    expect(await (await node.fetch('/health')).json()).toEqual({ status: 'healthy' })
    const preflight = await node.fetch('/anything', { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS')
    expect((await node.fetch('/health', { method: 'DELETE' })).status).toBe(405)
  })

  it('behavior: status reports identity and readiness; POST is 405 with Allow', async () => {
    const node = await startAlone(scripts['status']!, { ready: false })
    const status = await node.status()
    expect(status.node.tee_wallet).toMatch(/^0x[0-9a-f]{40}$/)
    expect(status.node.service_available).toBe(false)
    expect(status.node.unavailable_reason).toBe('initializing')
    const post = await node.fetch('/status', { method: 'POST', body: '{}' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET, HEAD')
    expect(await errorBody(post)).toEqual({ code: 'method_not_allowed', message: 'Method not allowed' })
  })

  it('behavior: nonce issues single-use nonces; HEAD is 405, since it would consume one', async () => {
    const node = await startAlone(scripts['nonce']!, { ready: false })
    const { nonce } = (await (await node.fetch('/nonce')).json()) as { nonce: string }
    expect(parseBase64(nonce)).toHaveLength(16)
    const head = await node.fetch('/nonce', { method: 'HEAD' })
    expect(head.status).toBe(405)
    expect(head.headers.get('allow')).toBe('GET')
  })

  it('behavior: nodes lists the peer cache once a tick has read the registry', async () => {
    const node = await startAlone(scripts['nodes']!, { ready: false })
    const before = (await (await node.fetch('/nodes')).json()) as { count: number }
    expect(before.count).toBe(0)
    await node.tick('node_tick')
    const after = (await (await node.fetch('/nodes')).json()) as { count: number; operators: { instance: { app_id: number } }[] }
    expect(after.count).toBeGreaterThanOrEqual(0)
    for (const operator of after.operators) expect(operator.instance.app_id).toBe(chain.addresses.kmsAppId)
  })

  it('behavior: attestation returns a document that verifies against the dev root with our nonce; a bad nonce is 400', async () => {
    const node = await startAlone(scripts['attestation']!, { ready: false })
    const nonce = cryptoRandom.bytes(32)
    const { attestation } = (await (await node.fetch(`/attestation?nonce=${encodeURIComponent(bytesToBase64(nonce))}`)).json()) as { attestation: string }
    const verified = await verifyNitroAttestation(parseBase64(attestation)!, {
      at: Date.now(),
      maxAgeMs: 60_000,
      expectedNonce: nonce,
      trustedRoot: devRootCertificateDer(),
      allowDebugMode: true,
    })
    expect(verified.userData).toBeDefined()
    const bad = await node.fetch('/attestation?nonce=abc')
    expect(bad.status).toBe(400)
    expect(await errorBody(bad)).toEqual({ code: 'bad_request', message: "'nonce' must be base64 of 16..64 bytes" })
  })

  it('behavior: metrics counts the requests it served, including its own 405s', async () => {
    const node = await startAlone(scripts['metrics']!, { ready: false })
    expect((await node.fetch('/metrics', { method: 'PUT' })).status).toBe(405)
    const text = await (await node.fetch('/metrics')).text()
    expect(text).toContain('nova_kms_http_requests_total{route="/metrics",method="PUT",status="405"} 1')
  })

  it('behavior: derive alone is 503 until ready, then derives the §5.7-keyed app key; a plaintext body is 400', async () => {
    const node = await startAlone(scripts['derive']!, { ready: false })
    const unready = await node.fetch('/kms/derive', { method: 'POST', body: '{}' })
    expect(unready.status).toBe(503)
    expect(await errorBody(unready)).toEqual({ code: 'service_unavailable', message: 'initializing' })
    await registerKmsNode(chain, node)
    await tickUntil(node, (status) => status.node.service_available)
    const client = await app.client(node)
    const first = await client.derive({ path: 'wallet/root' })
    expect(first.appId).toBe(app.appId)
    expect(bytesToHex((await client.derive({ path: 'wallet/root' })).key)).toBe(bytesToHex(first.key))
    const pop = await client.popHeaders()
    const plaintext = await node.fetch('/kms/derive', { method: 'POST', headers: { ...pop }, body: JSON.stringify({ path: 'p' }) })
    expect(plaintext.status).toBe(400)
    expect(await errorBody(plaintext)).toEqual({ code: 'bad_request', message: 'Request must be E2E encrypted. Plaintext fallback is disabled.' })
  })

  it('behavior: data alone puts, reads by path (+ is a space) and by query, lists and deletes; a missing key is 400', async () => {
    const node = await startAlone(scripts['data']!, { ready: true })
    const client = await app.client(node)
    await client.putData('a b', new TextEncoder().encode('spaced'))
    const byPath = await client.request('GET', '/kms/data/a+b')
    expect(new TextDecoder().decode(parseBase64(byPath['value'] as string))).toBe('spaced')
    const byQuery = await client.request('GET', '/kms/data?key=a%20b')
    expect(byQuery['key']).toBe('a b')
    expect((await client.request('GET', '/kms/data'))['keys']).toEqual(['a b'])
    expect(await refusal(() => client.request('PUT', '/kms/data', { value: 'eA==' }))).toEqual({ status: 400, code: 'bad_request', message: "Missing 'key' field" })
    await client.request('DELETE', '/kms/data', { key: 'a b' })
    expect((await refusal(() => client.request('GET', '/kms/data/a+b'))).status).toBe(404)
  })

  it('behavior: sign_cert alone refuses a bad CSR with invalid_csr; ca alone serves the §8.3 CA', async () => {
    const signer = await startAlone(scripts['signCert']!, { ready: true })
    const client = await app.client(signer)
    const bad = await refusal(() => client.signCert('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'))
    expect(bad).toMatchObject({ status: 400, code: 'invalid_csr' })
    expect((await signer.fetch('/kms/ca')).status).toBe(404)
    const ca = await startAlone(scripts['ca']!, { ready: true })
    const body = (await (await ca.fetch('/kms/ca')).json()) as { fingerprint_sha256: string }
    expect(body.fingerprint_sha256).toBe(CA_FINGERPRINT)
    expect((await ca.fetch('/kms/sign_cert', { method: 'POST' })).status).toBe(404)
  })

  it('behavior: sync, composed by hand from standalone fetches, answers a registered peer and refuses a stranger', async () => {
    // /sync needs a nonce from the same node, and a peer needs the node's teePubkey: three
    // standalone functions, each with its own fetch, share the isolate's one node.
    const node = await startAlone(scripts['syncTrio']!, { ready: false })
    // Fail closed: a peer cache that was never read from the registry refuses everyone.
    const unread = await node.fetch('/sync', { method: 'POST', body: '{}' })
    expect(unread.status).toBe(503)
    expect(await errorBody(unread)).toEqual({ code: 'service_unavailable', message: 'registry unreadable' })
    await node.tick('node_tick')
    const missing = await node.fetch('/sync', { method: 'POST', body: '{}' })
    expect(missing.status).toBe(403)
    expect(await errorBody(missing)).toEqual({ code: 'unauthorized', message: 'Missing x-kms-signature' })

    const peerTee = await createLocalTee({ random: cryptoRandom })
    const peerWallet = await peerTee.getWallet()
    const { node: self } = await node.status()
    const keys = new KeyRing({ kmsAppId: chain.addresses.kmsAppId })
    await keys.install(parseHex(MASTER_SECRET_HEX)!, 'generated')
    const ingested: unknown[] = []
    const client = new SyncClient({
      fetch: (input, init) => node.fetch(String(input).slice(node.url.length), init),
      tee: peerTee,
      clock: systemClock,
      random: cryptoRandom,
      ownWallet: () => peerWallet,
      // Dev mode: the dev root, zero PCRs allowed (PROTOCOL §4.5).
      peerAttestation: { policy: () => ({ at: Date.now(), maxAgeMs: 300_000, trustedRoot: devRootCertificateDer(), allowDebugMode: true }) },
      signSyncBody: (envelope, nonce) => keys.signSyncBody(envelope, nonce),
      store: {
        ingest: async (data) => {
          ingested.push(data)
          return { total: 0, merged: 0, skipped: 0, rejected: 0, skip_reasons: {} }
        },
      },
      canDecrypt: keys.canDecrypt,
    })
    // SyncClient reads the peer's wallet, URL and key; the registry record is not consulted.
    const target = { wallet: self.tee_wallet, url: node.url, teePubkeyDer: parseHex(self.tee_pubkey)!, probe: undefined } as unknown as Peer

    const stranger = await refusalOf(() => client.pullSnapshotCounts(target))
    expect(stranger).toContain('peer answered 403')

    await chain.registerInstance({
      teeWalletAddress: peerWallet as Address,
      teePubkey: `0x${bytesToHex(await peerTee.getEncryptionPublicKey())}` as Hex,
      instanceUrl: 'http://127.0.0.1:9',
      zkVerified: true,
    })
    await node.tick('node_tick')
    await client.pullSnapshotCounts(target)
    expect(ingested).toEqual([{}])
  })

  it('behavior: serve([nonce, derive, status]) is a working worker for exactly those routes', async () => {
    const node = await startAlone(scripts['pair']!, { ready: true })
    const client = await app.client(node)
    expect((await client.derive({ path: 'p' })).key).toHaveLength(32)
    expect((await node.fetch('/nonce')).status).toBe(200)
    expect((await node.fetch('/kms/data')).status).toBe(404)
    expect((await node.fetch('/health')).status).toBe(404)
  })
})
