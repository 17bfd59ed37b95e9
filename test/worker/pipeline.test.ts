/**
 * The request pipeline of PROTOCOL §2 and §12 on `dist/kms.mjs` in Miniflare: routing,
 * CORS, error bodies, body and rate limits, readiness gate, /status, /nonce, /metrics.
 * These need no chain: the node is never ticked, so it stays `initializing`.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DevChain } from '../helpers/devChain'
import { answerForDeclaredLength as declaredBody } from '../helpers/declaredBody'
import { startMiniflareNode, type TestNode } from '../helpers/kmsNodes'

const NO_CHAIN = {
  rpcUrl: 'http://127.0.0.1:1',
  addresses: { novaAppRegistry: '0x0000000000000000000000000000000000000001', kmsRegistry: '0x0000000000000000000000000000000000000002', kmsAppId: 49 },
} as unknown as DevChain

let node: TestNode
let proxied: TestNode

beforeAll(async () => {
  node = await startMiniflareNode(NO_CHAIN)
  proxied = await startMiniflareNode(NO_CHAIN, { TRUSTED_PROXY_HOPS: '1' })
})

afterAll(async () => {
  await node?.stop()
  await proxied?.stop()
})

/** Sends only the headers of a POST that declares `length` bytes, and reads the status. */
function answerForDeclaredLength(path: string, length: number): Promise<{ status: number; body: string }> {
  return declaredBody(`${node.url}${path}`, { length })
}

async function statusForDeclaredLength(path: string, length: number): Promise<number> {
  return (await answerForDeclaredLength(path, length)).status
}

async function body(response: Response): Promise<unknown> {
  return response.json()
}

describe('pipeline (PROTOCOL §2)', () => {
  it('behavior: /health answers while the node is unavailable (conformance 8)', async () => {
    const response = await node.fetch('/health')
    expect(response.status).toBe(200)
    expect(await body(response)).toEqual({ status: 'healthy' })
  })

  it('behavior: /status has every §2.1 field (conformance 9)', async () => {
    const status = (await body(await node.fetch('/status'))) as Record<string, Record<string, unknown>>
    expect(Object.keys(status).sort()).toEqual(['cluster', 'data_store', 'epochs', 'node'])
    expect(Object.keys(status['node']!).sort()).toEqual(
      ['is_operator', 'master_secret', 'master_secret_initialized', 'mode', 'node_url', 'service_available', 'tee_pubkey', 'tee_wallet', 'unavailable_reason', 'version'].sort(),
    )
    expect(status['node']).toMatchObject({ service_available: false, unavailable_reason: 'initializing', mode: 'dev', version: '0.1.0' })
    expect(status['node']!['tee_pubkey']).toMatch(/^3076301006072a8648ce3d020106052b8104002203620004[0-9a-f]{192}$/)
    expect(status['cluster']).toEqual({ kms_app_id: 49, registry_address: '0x0000000000000000000000000000000000000002', total_instances: 0 })
    expect(status['data_store']).toEqual({ namespaces: 0, total_keys: 0, total_bytes: 0 })
    // §2.1 `epochs` (issue 16) before the first tick: nothing held, nothing read yet.
    expect(status['epochs']).toEqual({
      current: 0, serving: null, live: [], held: [], missing: [], awaiting_commit: null, wiped: [],
      reencryption: { target_epoch: null, records_remaining: 0, done: true }, migration_reported: null,
    })
  })

  it('behavior: /nonce gives 24 base64 characters, different each time (conformance 10)', async () => {
    const first = (await body(await node.fetch('/nonce'))) as { nonce: string }
    const second = (await body(await node.fetch('/nonce'))) as { nonce: string }
    expect(first.nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/)
    expect(first.nonce).not.toBe(second.nonce)
  })

  it('error: unknown path 404, wrong method 405 with Allow (conformance 15)', async () => {
    const missing = await node.fetch('/nope')
    expect(missing.status).toBe(404)
    expect(await body(missing)).toEqual({ code: 'not_found', message: 'Not found' })
    const wrong = await node.fetch('/kms/derive', { method: 'GET' })
    expect(wrong.status).toBe(405)
    expect(wrong.headers.get('allow')).toBe('POST')
    expect(await body(wrong)).toEqual({ code: 'method_not_allowed', message: 'Method not allowed' })
  })

  it('behavior: every /kms/* route is gated by readiness, before auth (conformance 17, 19)', async () => {
    const routes: [string, string][] = [['POST', '/kms/derive'], ['GET', '/kms/data'], ['GET', '/kms/data/a/b'], ['PUT', '/kms/data'], ['DELETE', '/kms/data'], ['POST', '/kms/sign_cert'], ['GET', '/kms/ca']]
    for (const [method, path] of routes) {
      const response = await node.fetch(path, { method, ...(method === 'GET' ? {} : { body: '{}' }) })
      expect(response.status, `${method} ${path}`).toBe(503)
      expect(await body(response)).toEqual({ code: 'service_unavailable', message: 'initializing' })
    }
  })

  it('behavior: /sync without a secret is 503 before auth (conformance 71)', async () => {
    const response = await node.fetch('/sync', { method: 'POST', body: '{}' })
    expect(response.status).toBe(503)
    expect(await body(response)).toEqual({ code: 'service_unavailable', message: 'master secret not initialized' })
  })

  it('behavior: CORS on every response, and OPTIONS anywhere is 204', async () => {
    for (const path of ['/health', '/nope', '/kms/derive']) {
      const response = await node.fetch(path)
      expect(response.headers.get('access-control-allow-origin')).toBe('*')
      expect(response.headers.get('access-control-expose-headers')).toBe('x-kms-response-signature, x-kms-peer-signature, x-kms-response-binding, x-kms-peer-binding, x-kms-request-id, retry-after')
      expect(response.headers.get('access-control-allow-credentials')).toBeNull()
    }
    const preflight = await node.fetch('/kms/anything', { method: 'OPTIONS' })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS')
    expect(preflight.headers.get('access-control-allow-headers')).toContain('x-nitro-attestation')
  })

  it('error: bodies over the limit get 413; /sync has its own limit (conformance 14)', async () => {
    const tooLarge = await answerForDeclaredLength('/kms/derive', 3 * 1024 * 1024 + 1)
    expect(tooLarge.status).toBe(413)
    expect(JSON.parse(tooLarge.body)).toEqual({ code: 'payload_too_large', message: 'Request body too large' })
    const syncLarge = await answerForDeclaredLength('/sync', 4 * 1024 * 1024)
    expect(syncLarge.status).toBe(503) // accepted by the limit; refused for want of a secret
    // The declared length alone is refused at once (§12.1), before any byte of the body.
    expect(await statusForDeclaredLength('/sync', 50 * 1024 * 1024 + 1)).toBe(413)
    expect(await statusForDeclaredLength('/kms/derive', 3 * 1024 * 1024 + 1)).toBe(413)
  })

  it('behavior: /metrics serves every §2.8 series (conformance 18)', async () => {
    await node.fetch('/health')
    const response = await node.fetch('/metrics')
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8')
    const text = await response.text()
    for (const series of [
      'nova_kms_http_requests_total{route="/health",method="GET",status="200"}',
      'nova_kms_http_request_duration_seconds_bucket{route="/health",le="0.001"}',
      'nova_kms_nonce_store_size', 'nova_kms_rate_limited_total{limiter="global"}', 'nova_kms_rate_limited_total{limiter="nonce"}',
      'nova_kms_kv_namespaces', 'nova_kms_kv_keys', 'nova_kms_kv_bytes', 'nova_kms_master_secret_state{state="uninitialized"} 1',
      'nova_kms_service_available 0', '# TYPE nova_kms_sync_push_total counter',
    ]) {
      expect(text).toContain(series)
    }
  })
})

describe('rate limits (PROTOCOL §12.2)', () => {
  it('behavior: workerd has no socket address, so nothing is limited per client without a trusted proxy (conformance 13)', async () => {
    for (let index = 0; index < 40; index++) expect((await node.fetch('/nonce', { headers: { 'x-forwarded-for': '9.9.9.9' } })).status).toBe(200)
  })

  it('behavior: the 31st /nonce in a minute from one client gets 429 with Retry-After (conformance 11)', async () => {
    const client = { 'x-forwarded-for': '203.0.113.7' }
    for (let index = 0; index < 30; index++) expect((await proxied.fetch('/nonce', { headers: client })).status).toBe(200)
    const refused = await proxied.fetch('/nonce', { headers: client })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await body(refused)).toEqual({ code: 'rate_limited', message: 'Rate limit exceeded' })
    expect((await proxied.fetch('/nonce', { headers: { 'x-forwarded-for': '203.0.113.8' } })).status).toBe(200)
  })

  it('behavior: the 121st request from one client gets 429; /health and /metrics are exempt (conformance 12)', async () => {
    const client = { 'x-forwarded-for': '198.51.100.1, 203.0.113.9' }
    // Refill is continuous (2 tokens/s), so the first refusal comes after 120 plus what
    // refilled while the loop ran; never before the 121st.
    const started = Date.now()
    let accepted = 0
    while (accepted < 200 && (await proxied.fetch('/status', { headers: client })).status === 200) accepted++
    const refilled = Math.ceil(((Date.now() - started) / 1000) * 2)
    expect(accepted).toBeGreaterThanOrEqual(120)
    expect(accepted).toBeLessThanOrEqual(120 + refilled)
    expect((await proxied.fetch('/health', { headers: client })).status).toBe(200)
    expect((await proxied.fetch('/metrics', { headers: client })).status).toBe(200)
    const metrics = await (await proxied.fetch('/metrics')).text()
    expect(metrics).toMatch(/nova_kms_rate_limited_total\{limiter="global"\} [1-9]/)
  })
})

describe('robustness', () => {
  it('property: random methods, paths, headers and bodies never produce a 500', async () => {
    const paths = ['/', '/health', '/status', '/nonce', '/nodes', '/metrics', '/attestation', '/kms/derive', '/kms/data', '/kms/data/x', '/kms/sign_cert', '/kms/ca', '/sync', '/zzz']
    const headerNames = ['x-app-signature', 'x-app-nonce', 'x-app-timestamp', 'x-app-wallet', 'x-nitro-attestation', 'x-kms-signature', 'x-kms-nonce', 'x-kms-timestamp', 'x-sync-signature', 'content-type', 'x-forwarded-for']
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
        fc.constantFrom(...paths),
        fc.string({ maxLength: 20 }),
        fc.dictionary(fc.constantFrom(...headerNames), fc.string({ unit: 'grapheme-ascii', maxLength: 80 }), { maxKeys: 5 }),
        fc.oneof(fc.string({ maxLength: 200 }), fc.json(), fc.constant('{"sender_tee_pubkey":"00","nonce":"11","encrypted_data":"22"}')),
        async (method, path, query, headers, requestBody) => {
          const url = `${path}?${encodeURIComponent(query)}`
          const init: RequestInit = { method, headers: headers as Record<string, string> }
          if (method !== 'GET' && method !== 'OPTIONS') init.body = requestBody
          const response = await node.fetch(url, init)
          expect(response.status).toBeLessThan(500 + (response.status === 503 ? 4 : 0))
          if (response.status !== 204) {
            const text = await response.text()
            if (response.status >= 400) expect(Object.keys(JSON.parse(text) as object).sort()).toEqual(['code', 'message'])
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
