/**
 * Stage `clientLimits` (PROTOCOL §2 step 1, §12.2): the per-client global bucket on every
 * route but the exempt ones, the nonce bucket on top for `limiter: 'nonce'`, no per-client
 * limit for loopback or unknown callers, `X-Forwarded-For` only with `TRUSTED_PROXY_HOPS`,
 * and 429 `rate_limited` with `Retry-After` and the metrics counter.
 */
import type { Context } from 'hono'
import { describe, expect, it } from 'vitest'
import { RateLimiter } from '../../../../core/auth'
import { Metrics } from '../../../../core/metrics'
import { clientLimits, nodeServerSocketAddress } from '../../../../functions/_stages/clientLimits'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { FakeClock } from '../../../helpers/fakeClock'
import { context, errorBody, probeFunction, stageApp, T0_MS } from '../_helpers'

const GAUGES = { nonceStoreSize: 0, kvNamespaces: 0, kvKeys: 0, kvBytes: 0, masterSecretState: 'uninitialized', serviceAvailable: false } as const

function app(options: { global?: number; nonce?: number; hops?: number; socket?: (c: Context) => string | undefined } = {}) {
  const clock = new FakeClock(T0_MS)
  const limiter = (ratePerMinute: number) => new RateLimiter({ clock, ratePerMinute, maxBuckets: 100 })
  const metrics = new Metrics()
  // The node fields clientLimits reads: the hop count, the per-client limiters, metrics.
  // `nodeNonce` (a node-wide nonce bucket being added alongside) is kept out of the way.
  const node = {
    config: { trustedProxyHops: options.hops ?? 0 },
    limiters: { global: limiter(options.global ?? 2), nonce: limiter(options.nonce ?? 100), nodeNonce: limiter(100_000) },
    metrics,
  }
  const functions = [
    probeFunction({ routes: [{ path: '/status', methods: ['GET'] }], limiter: 'client' }),
    probeFunction({ routes: [{ path: '/nonce', methods: ['GET'] }], limiter: 'nonce' }),
    probeFunction({ routes: [{ path: '/health', methods: ['GET'] }], limiter: 'exempt' }),
  ]
  const server = stageApp()
  server.use(context({ node, functions }))
  server.use(clientLimits(options.socket ?? nodeServerSocketAddress))
  server.all('*', () => new Response('passed'))
  server.onError(mapError)
  const rateLimited = (name: 'global' | 'nonce') => {
    const line = metrics.render(GAUGES).split('\n').find((text) => text.startsWith(`nova_kms_rate_limited_total{limiter="${name}"}`))
    return Number(line?.split(' ')[1])
  }
  /** A request from the socket address `from` (the @hono/node-server env shape). */
  const from = (from: string | undefined, path: string, headers: Record<string, string> = {}) =>
    server.request(path, { headers }, from === undefined ? undefined : { incoming: { socket: { remoteAddress: from } } })
  return { server, clock, from, rateLimited }
}

describe('clientLimits stage', () => {
  it('error: a client past the global bucket gets 429 with Retry-After, and the counter moves', async () => {
    const { from, rateLimited } = app({ global: 2 })
    expect((await from('203.0.113.5', '/status')).status).toBe(200)
    expect((await from('203.0.113.5', '/status')).status).toBe(200)
    expect(rateLimited('global')).toBe(0)
    const refused = await from('203.0.113.5', '/status')
    expect(refused.status).toBe(429)
    expect(await errorBody(refused)).toEqual({ code: 'rate_limited', message: 'Rate limit exceeded' })
    // 2 per minute: one token every 30 s.
    expect(refused.headers.get('retry-after')).toBe('30')
    expect(rateLimited('global')).toBe(1)
    expect(rateLimited('nonce')).toBe(0)
  })

  it('behavior: buckets are per client and refill with time', async () => {
    const { from, clock } = app({ global: 1 })
    expect((await from('203.0.113.5', '/status')).status).toBe(200)
    expect((await from('203.0.113.5', '/status')).status).toBe(429)
    expect((await from('203.0.113.6', '/status')).status).toBe(200)
    clock.advanceSeconds(60)
    expect((await from('203.0.113.5', '/status')).status).toBe(200)
  })

  it('behavior: a path no function serves is still limited (the limit comes before routing)', async () => {
    const { from } = app({ global: 1 })
    expect((await from('203.0.113.5', '/unknown')).status).toBe(200)
    expect((await from('203.0.113.5', '/unknown')).status).toBe(429)
  })

  it('error: the nonce bucket applies to limiter nonce, on top of the global one', async () => {
    const { from, rateLimited } = app({ global: 100, nonce: 1 })
    expect((await from('203.0.113.5', '/nonce')).status).toBe(200)
    const refused = await from('203.0.113.5', '/nonce')
    expect(refused.status).toBe(429)
    expect(refused.headers.get('retry-after')).toBe('60')
    expect(rateLimited('nonce')).toBe(1)
    expect(rateLimited('global')).toBe(0)
    // Other routes never touch the nonce bucket.
    for (let index = 0; index < 5; index++) expect((await from('203.0.113.5', '/status')).status).toBe(200)
    expect((await from('203.0.113.9', '/nonce')).status).toBe(200)
  })

  it('behavior: routes other than limiter nonce leave the nonce bucket full', async () => {
    const { from } = app({ global: 100, nonce: 1 })
    for (let index = 0; index < 5; index++) expect((await from('203.0.113.5', '/status')).status).toBe(200)
    expect((await from('203.0.113.5', '/nonce')).status).toBe(200)
  })

  it('behavior: a nonce request also takes a global token', async () => {
    const { from, rateLimited } = app({ global: 1, nonce: 100 })
    expect((await from('203.0.113.5', '/nonce')).status).toBe(200)
    expect((await from('203.0.113.5', '/status')).status).toBe(429)
    expect(rateLimited('global')).toBe(1)
  })

  it('behavior: exempt routes are never limited and take no token', async () => {
    const { from } = app({ global: 1 })
    for (let index = 0; index < 10; index++) expect((await from('203.0.113.5', '/health')).status).toBe(200)
    expect((await from('203.0.113.5', '/status')).status).toBe(200)
  })

  it('behavior: loopback and unknown callers are not limited per client', async () => {
    const { from } = app({ global: 1, nonce: 1 })
    for (const address of ['127.0.0.1', '127.9.8.7', '::1', '::ffff:127.0.0.1', undefined]) {
      for (let index = 0; index < 3; index++) {
        expect((await from(address, '/status')).status).toBe(200)
        expect((await from(address, '/nonce')).status).toBe(200)
      }
    }
  })

  it('behavior: X-Forwarded-For is ignored without trusted proxy hops', async () => {
    const { from } = app({ global: 1, hops: 0 })
    expect((await from('203.0.113.5', '/status', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200)
    expect((await from('203.0.113.5', '/status', { 'x-forwarded-for': '198.51.100.2' })).status).toBe(429)
    // Nor does it make a loopback caller limited.
    const loopback = app({ global: 1, hops: 0 })
    for (let index = 0; index < 3; index++) {
      expect((await loopback.from('127.0.0.1', '/status', { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200)
    }
  })

  it('behavior: with one trusted hop the key is the rightmost entry, even behind a loopback proxy', async () => {
    const { from } = app({ global: 1, hops: 1 })
    expect((await from('127.0.0.1', '/status', { 'x-forwarded-for': 'spoofed, 198.51.100.7' })).status).toBe(200)
    // A different spoofed prefix does not escape the bucket of the real client.
    const refused = await from('127.0.0.1', '/status', { 'x-forwarded-for': 'other-spoof , 198.51.100.7' })
    expect(refused.status).toBe(429)
    expect((await from('127.0.0.1', '/status', { 'x-forwarded-for': '198.51.100.8' })).status).toBe(200)
  })

  it('behavior: with two hops the key is the second entry from the right, or the leftmost', async () => {
    const { from } = app({ global: 1, hops: 2 })
    expect((await from(undefined, '/status', { 'x-forwarded-for': '198.51.100.1, 198.51.100.2, 10.0.0.1' })).status).toBe(200)
    expect((await from(undefined, '/status', { 'x-forwarded-for': '198.51.100.9, 198.51.100.2, 10.0.0.2' })).status).toBe(429)
    // Fewer entries than hops: the leftmost.
    expect((await from(undefined, '/status', { 'x-forwarded-for': '198.51.100.3' })).status).toBe(200)
    expect((await from(undefined, '/status', { 'x-forwarded-for': '198.51.100.3' })).status).toBe(429)
  })

  it('behavior: a forwarded loopback address is not limited either', async () => {
    const { from } = app({ global: 1, hops: 1 })
    for (let index = 0; index < 3; index++) {
      expect((await from('203.0.113.5', '/status', { 'x-forwarded-for': '127.0.0.1' })).status).toBe(200)
    }
  })

  it('behavior: the socket address comes from the injected reader when one is given', async () => {
    const { server } = app({ global: 1, socket: (c) => c.req.header('x-test-peer') })
    expect((await server.request('/status', { headers: { 'x-test-peer': '203.0.113.5' } })).status).toBe(200)
    expect((await server.request('/status', { headers: { 'x-test-peer': '203.0.113.5' } })).status).toBe(429)
  })
})
