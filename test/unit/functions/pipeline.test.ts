/**
 * The whole PROTOCOL §2 pipeline (`createPipeline`) over real functions and a real dev-mode
 * `KmsNode`, in process: the order of the steps (limits, body limit, routing with OPTIONS,
 * gate, route), HEAD, the node provider's failures, the route table, and a function's own
 * `fetch` on the default provider.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseHex } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KmsNode } from '../../../core/node'
import { ALL_FUNCTIONS, ca, defaultNodeProvider, health, nonce, status } from '../../../functions'
import { createPipeline } from '../../../functions/_serve'
import { buildRouteTable } from '../../../functions/_routeTable'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { createDevNode, errorBody, probeFunction, T0_MS } from './_helpers'

const ENV = {
  RATE_LIMIT_PER_MINUTE: '3',
  NONCE_RATE_LIMIT_PER_MINUTE: '2',
  // app.request() has no socket: clients are told apart by X-Forwarded-For (§12.2 tests).
  TRUSTED_PROXY_HOPS: '1',
  MAX_REQUEST_BODY_BYTES: '64',
}
const GAUGES = { nonceStoreSize: 0, kvNamespaces: 0, kvKeys: 0, kvBytes: 0, masterSecretState: 'uninitialized', serviceAvailable: false } as const

async function pipeline() {
  const { node, clock, logs } = await createDevNode({ env: ENV })
  const app = createPipeline([health, nonce, status, ca], { nodeProvider: async () => node })
  let clients = 0
  /** A fresh client address, so that each test starts with full buckets. */
  const client = () => `198.51.100.${++clients}`
  const send = (path: string, init: RequestInit & { from?: string } = {}) => {
    const { from, ...rest } = init
    const headers = new Headers(rest.headers)
    if (from !== undefined) headers.set('x-forwarded-for', from)
    return app.request(path, { ...rest, headers })
  }
  return { node, clock, logs, app, client, send }
}

function expectCors(response: Response): void {
  expect(response.headers.get('access-control-allow-origin')).toBe('*')
  expect(response.headers.get('access-control-expose-headers')).toBe('x-kms-response-signature, x-kms-peer-signature, x-kms-response-binding, x-kms-peer-binding, x-kms-request-id, retry-after')
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the request pipeline (PROTOCOL §2)', () => {
  it('behavior: public routes answer with CORS and a request id', async () => {
    const { node, send, client } = await pipeline()
    const healthy = await send('/health', { from: client() })
    expect(healthy.status).toBe(200)
    expect(await healthy.json()).toEqual({ status: 'healthy' })
    expectCors(healthy)
    expect(healthy.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)

    const statusResponse = await send('/status', { from: client(), headers: { 'x-request-id': 'status-1' } })
    expect(statusResponse.status).toBe(200)
    expect(statusResponse.headers.get('x-request-id')).toBe('status-1')
    const body = (await statusResponse.json()) as { node: Record<string, unknown> }
    expect(body.node).toMatchObject({ tee_wallet: node.wallet, mode: 'dev', service_available: false, unavailable_reason: 'initializing', master_secret_initialized: false })

    const issued = await send('/nonce', { from: client() })
    expect(issued.status).toBe(200)
    expect(((await issued.json()) as { nonce: string }).nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/)
    expect(node.nonces.size).toBe(1)
  })

  it('error: OPTIONS is answered after the limits, so a rate-limited client gets 429 even for OPTIONS', async () => {
    const { send, client } = await pipeline()
    const limited = client()
    for (let index = 0; index < 3; index++) expect((await send('/status', { from: limited })).status).toBe(200)
    const refused = await send('/status', { from: limited, method: 'OPTIONS' })
    expect(refused.status).toBe(429)
    expect(await errorBody(refused)).toEqual({ code: 'rate_limited', message: 'Rate limit exceeded' })
    // 3 per minute: a token every 20 s.
    expect(refused.headers.get('retry-after')).toBe('20')
    expectCors(refused)
    expect(refused.headers.get('x-request-id')).not.toBeNull()
    // Another client's preflight is unaffected.
    expect((await send('/status', { from: client(), method: 'OPTIONS' })).status).toBe(204)
  })

  it('behavior: OPTIONS to an unknown path, a wrong-method path or a gated route is 204, never 404, 405 or 503', async () => {
    const { send, client } = await pipeline()
    for (const path of ['/nowhere', '/health', '/kms/ca', '/kms/derive']) {
      const response = await send(path, { from: client(), method: 'OPTIONS' })
      expect(response.status).toBe(204)
      expect(response.headers.get('access-control-allow-methods')).toBe('GET, POST, PUT, DELETE, OPTIONS')
      expectCors(response)
      expect(response.headers.get('x-request-id')).not.toBeNull()
    }
  })

  it('error: a too-large declared body is 413 before 404 and 405', async () => {
    const { send, client } = await pipeline()
    const big = { method: 'POST', headers: { 'content-length': '65' }, body: 'x'.repeat(65) }
    const unknown = await send('/nowhere', { ...big, from: client() })
    expect(unknown.status).toBe(413)
    expect(await errorBody(unknown)).toEqual({ code: 'payload_too_large', message: 'Request body too large' })
    expect((await send('/health', { ...big, from: client() })).status).toBe(413)
    // At the limit, routing answers.
    const small = { method: 'POST', headers: { 'content-length': '64' }, body: 'x'.repeat(64) }
    expect((await send('/nowhere', { ...small, from: client() })).status).toBe(404)
    const wrongMethod = await send('/health', { ...small, from: client() })
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD')
  })

  it('error: the rate limit comes before the body limit', async () => {
    const { send, client } = await pipeline()
    const limited = client()
    for (let index = 0; index < 3; index++) await send('/status', { from: limited })
    const response = await send('/nowhere', { from: limited, method: 'POST', headers: { 'content-length': '65' }, body: 'x'.repeat(65) })
    expect(response.status).toBe(429)
  })

  it('error: routing comes before the gate: a wrong method on a gated route is 405, not 503', async () => {
    const { send, client } = await pipeline()
    const response = await send('/kms/ca', { from: client(), method: 'POST' })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET, HEAD')
  })

  it('behavior: a gated route answers 503 with the reason until the node is ready, then serves (§8.3 CA)', async () => {
    const { node, send, client } = await pipeline()
    const early = await send('/kms/ca', { from: client() })
    expect(early.status).toBe(503)
    expect(await errorBody(early)).toEqual({ code: 'service_unavailable', message: 'initializing' })
    node.readiness.markUnavailable('master secret sync failed')
    expect(await errorBody(await send('/kms/ca', { from: client() }))).toEqual({ code: 'service_unavailable', message: 'master secret sync failed' })

    await node.keys.install(parseHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f')!, 'generated')
    node.readiness.markAvailable()
    const served = await send('/kms/ca', { from: client() })
    expect(served.status).toBe(200)
    const body = (await served.json()) as { ca_certificate: string; fingerprint_sha256: string }
    expect(body.fingerprint_sha256).toBe('a5864b86b624199180526f4469baf26ed213117b13edc4badc562fee52fd6a7a')
    expect(body.ca_certificate.startsWith('-----BEGIN CERTIFICATE-----\nMIIBvjCCAWWgAwIBAgIQFG/m9eOzDgBj4HREA//ZUTAKBggqhkjOPQQDAjA+MREw\n')).toBe(true)
  })

  it('behavior: HEAD is allowed on /health and /status, without a body', async () => {
    const { send, client } = await pipeline()
    for (const path of ['/health', '/status']) {
      const response = await send(path, { from: client(), method: 'HEAD' })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/json')
      expectCors(response)
      expect(await response.text()).toBe('')
    }
  })

  it('error: HEAD on /nonce is 405 with Allow GET, and issues no nonce', async () => {
    const { node, send, client } = await pipeline()
    const response = await send('/nonce', { from: client(), method: 'HEAD' })
    expect(response.status).toBe(405)
    expect(response.headers.get('allow')).toBe('GET')
    expect(await response.text()).toBe('')
    expect(node.nonces.size).toBe(0)
  })

  it('error: /nonce has the nonce bucket on top of the global one', async () => {
    const { node, send, client } = await pipeline()
    const caller = client()
    expect((await send('/nonce', { from: caller })).status).toBe(200)
    expect((await send('/nonce', { from: caller })).status).toBe(200)
    const refused = await send('/nonce', { from: caller })
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('30')
    expect(node.metrics.render(GAUGES)).toContain('nova_kms_rate_limited_total{limiter="nonce"} 1\n')
    // /health is exempt, and another client has its own nonce bucket.
    expect((await send('/health', { from: caller })).status).toBe(200)
    expect((await send('/nonce', { from: client() })).status).toBe(200)
  })

  it('behavior: every answer is counted by template, unknown paths as unmatched', async () => {
    const { node, send, client } = await pipeline()
    await send('/nowhere', { from: client() })
    await send('/nonce', { from: client(), method: 'HEAD' })
    await send('/health')
    const text = node.metrics.render(GAUGES)
    expect(text).toContain('nova_kms_http_requests_total{route="unmatched",method="GET",status="404"} 1\n')
    expect(text).toContain('nova_kms_http_requests_total{route="/nonce",method="HEAD",status="405"} 1\n')
    expect(text).toContain('nova_kms_http_requests_total{route="/health",method="GET",status="200"} 1\n')
  })

  it('error: a provider that rejects with a configuration error gives 500 naming the variable, and the next request retries it', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    let env: Record<string, string> = { IN_ENCLAVE: 'false', LOG_LEVEL: 'LOUD' }
    let calls = 0
    let memo: Promise<KmsNode> | undefined
    // Memoized like the default provider: a failure keeps nothing.
    const provider = () => {
      calls++
      memo ??= KmsNode.create({
        env,
        clock: new FakeClock(T0_MS),
        random: seededRandom(3),
        sleep: async () => undefined,
        fetch: async () => {
          throw new Error('no network')
        },
        writeLog: () => undefined,
        version: 'test',
      }).catch((error: unknown) => {
        memo = undefined
        throw error
      })
      return memo
    }
    const app = createPipeline([health, status], { nodeProvider: provider })
    const failed = await app.request('/status', { headers: { 'x-request-id': 'cfg-1' } })
    expect(failed.status).toBe(500)
    expect(await errorBody(failed)).toEqual({ code: 'internal_error', message: 'Invalid configuration: LOG_LEVEL must be DEBUG, INFO, WARN, ERROR' })
    expectCors(failed)
    expect(failed.headers.get('x-request-id')).toBe('cfg-1')
    expect(console.error).toHaveBeenCalledWith('unhandled error', expect.objectContaining({ requestId: 'cfg-1' }))

    env = { IN_ENCLAVE: 'false' }
    const retried = await app.request('/status')
    expect(retried.status).toBe(200)
    expect(calls).toBe(2)
    expect((await app.request('/health')).status).toBe(200)
    expect(calls).toBe(3)
  })

  it('error: a provider that throws a plain error is a generic 500', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    const app = createPipeline([health], { nodeProvider: async () => { throw new Error('ECONNREFUSED 10.0.0.1:8545') } })
    const response = await app.request('/health')
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ code: 'internal_error', message: 'Internal server error' })
    expect(text).not.toContain('ECONNREFUSED')
  })

  it('error: a path claimed twice is refused when the pipeline is built', () => {
    expect(() => buildRouteTable([health, health])).toThrow('route /health is defined twice')
    expect(() => createPipeline([status, nonce, probeFunction({ routes: [{ path: '/nonce', methods: ['POST'] }] })])).toThrow('route /nonce is defined twice')
    expect(() => createPipeline([health, nonce, status, ca])).not.toThrow()
  })

  it('error: a KmsError thrown by a handler keeps its status and headers through the pipeline', async () => {
    const { node } = await createDevNode()
    const refusing = probeFunction({ routes: [{ path: '/refuse', methods: ['GET'] }] })
    const app = createPipeline([
      { ...refusing, handle: async () => { throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': '9' } }) } },
    ], { nodeProvider: async () => node })
    const response = await app.request('/refuse')
    expect(response.status).toBe(429)
    expect(response.headers.get('retry-after')).toBe('9')
    expectCors(response)
  })
})

describe('the route policies of every function (PROTOCOL §2, §12.1, §12.2)', () => {
  it('behavior: each route has the §2 gate, the §12.2 limiter and the §12.1 body limit', () => {
    const table = Object.fromEntries(
      ALL_FUNCTIONS.flatMap((fn) => fn.policy.routes.map((route) => [route.path, { methods: route.methods, gate: fn.policy.gate, limiter: fn.policy.limiter, bodyLimit: fn.policy.bodyLimit }])),
    )
    expect(table).toEqual({
      '/': { methods: ['GET', 'HEAD'], gate: 'none', limiter: 'client', bodyLimit: 'request' },
      '/health': { methods: ['GET', 'HEAD'], gate: 'none', limiter: 'exempt', bodyLimit: 'request' },
      '/status': { methods: ['GET', 'HEAD'], gate: 'none', limiter: 'client', bodyLimit: 'request' },
      '/nonce': { methods: ['GET'], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
      '/nodes': { methods: ['GET', 'HEAD'], gate: 'none', limiter: 'client', bodyLimit: 'request' },
      '/attestation': { methods: ['GET'], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
      '/metrics': { methods: ['GET', 'HEAD'], gate: 'none', limiter: 'exempt', bodyLimit: 'request' },
      '/kms/derive': { methods: ['POST'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/kms/data': { methods: ['GET', 'PUT', 'DELETE'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/kms/data/*': { methods: ['GET'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/kms/sign_cert': { methods: ['POST'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/kms/ca': { methods: ['GET', 'HEAD'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/kms/audit': { methods: ['GET'], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
      '/audit/cluster': { methods: ['GET'], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
      '/sync': { methods: ['POST'], gate: 'none', limiter: 'exempt', bodyLimit: 'sync' },
      '/recovery/share': { methods: ['POST'], gate: 'none', limiter: 'client', bodyLimit: 'recovery' },
    })
    expect(() => createPipeline(ALL_FUNCTIONS)).not.toThrow()
  })
})

describe('a function alone (its own fetch, on the default provider)', () => {
  it('behavior: nonce.fetch answers /nonce, 404s other paths and fails closed on bad configuration first', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined)
    // A bad configuration is 500 naming the variable, and keeps no node.
    const bad = await nonce.fetch(new Request('http://x/nonce'), { IN_ENCLAVE: 'false', LOG_LEVEL: 'LOUD' })
    expect(bad.status).toBe(500)
    expect(await errorBody(bad)).toEqual({ code: 'internal_error', message: 'Invalid configuration: LOG_LEVEL must be DEBUG, INFO, WARN, ERROR' })

    const env = { IN_ENCLAVE: 'false' }
    const issued = await nonce.fetch(new Request('http://x/nonce'), env)
    expect(issued.status).toBe(200)
    expect(((await issued.json()) as { nonce: string }).nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/)
    expectCors(issued)

    const other = await nonce.fetch(new Request('http://x/health'), env)
    expect(other.status).toBe(404)
    expect(await errorBody(other)).toEqual({ code: 'not_found', message: 'Not found' })
    expect((await nonce.fetch(new Request('http://x/nonce', { method: 'POST' }), env)).status).toBe(405)
    expect((await nonce.fetch(new Request('http://x/anything', { method: 'OPTIONS' }), env)).status).toBe(204)
  })

  it('behavior: two functions alone share the one default node', async () => {
    const env = { IN_ENCLAVE: 'false' }
    const node = await defaultNodeProvider(env)
    const before = node.nonces.size
    const fromNonce = await nonce.fetch(new Request('http://x/nonce'), env)
    expect(fromNonce.status).toBe(200)
    expect(node.nonces.size).toBe(before + 1)
    const fromStatus = await status.fetch(new Request('http://x/status'), env)
    const body = (await fromStatus.json()) as { node: { mode: string; tee_wallet: string } }
    expect(body.node.mode).toBe('dev')
    expect(body.node.tee_wallet).toBe(node.wallet)
    expect((await health.fetch(new Request('http://x/status'), env)).status).toBe(404)
  })
})
