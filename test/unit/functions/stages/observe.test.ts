/**
 * Stage `observe` (PROTOCOL §2.8): every answer, errors included, is counted by route
 * template, method and status with its duration, `unmatched` for a path no function serves,
 * and logged at debug with the request id.
 */
import { describe, expect, it } from 'vitest'
import { KmsError } from '../../../../core/errors'
import type { LogFields, LogLevel } from '../../../../core/log'
import { Metrics } from '../../../../core/metrics'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { observe } from '../../../../functions/_stages/observe'
import { context, probeFunction, stageApp } from '../_helpers'

const GAUGES = { nonceStoreSize: 0, kvNamespaces: 0, kvKeys: 0, kvBytes: 0, masterSecretState: 'uninitialized', serviceAvailable: false } as const

function app(times: number[] = []) {
  const metrics = new Metrics()
  const logs: { level: LogLevel; message: string; fields?: LogFields }[] = []
  // The node fields observe reads: metrics and log.
  const node = { metrics, log: (level: LogLevel, message: string, fields?: LogFields) => logs.push({ level, message, fields }) }
  const data = probeFunction({ routes: [{ path: '/kms/data', methods: ['GET'] }, { path: '/kms/data/*', methods: ['GET'] }] })
  let clock = 0
  const now = () => times.shift() ?? clock++
  const server = stageApp()
  server.use(context({ node, functions: [data], requestId: 'obs-1' }))
  server.use(observe(now))
  server.get('/kms/data', () => new Response('list'))
  server.get('/kms/data/missing', () => {
    throw new KmsError('not_found', 'Key not found: missing')
  })
  server.get('/kms/data/bug', () => {
    throw new Error('boom')
  })
  server.get('/kms/data/*', () => new Response('value'))
  server.all('*', () => {
    throw new KmsError('not_found', 'Not found')
  })
  server.onError(mapError)
  const rendered = () => metrics.render(GAUGES)
  return { server, rendered, logs }
}

describe('observe stage', () => {
  it('behavior: a request is counted by template, method and status', async () => {
    const { server, rendered } = app()
    await server.request('/kms/data/a')
    await server.request('/kms/data/b/c')
    await server.request('/kms/data')
    const text = rendered()
    expect(text).toContain('nova_kms_http_requests_total{route="/kms/data/*",method="GET",status="200"} 2\n')
    expect(text).toContain('nova_kms_http_requests_total{route="/kms/data",method="GET",status="200"} 1\n')
    expect(text).not.toContain('route="/kms/data/a"')
  })

  it('error: refusals and bugs are counted with their mapped status', async () => {
    const { server, rendered, logs } = app()
    await server.request('/kms/data/missing')
    await server.request('/kms/data/bug')
    const text = rendered()
    expect(text).toContain('nova_kms_http_requests_total{route="/kms/data/*",method="GET",status="404"} 1\n')
    expect(text).toContain('nova_kms_http_requests_total{route="/kms/data/*",method="GET",status="500"} 1\n')
    expect(logs.filter((entry) => entry.level === 'error')).toHaveLength(1)
  })

  it('behavior: a path no function serves is counted as unmatched', async () => {
    const { server, rendered } = app()
    await server.request('/wp-admin/login.php', { method: 'POST' })
    await server.request('/nowhere')
    const text = rendered()
    expect(text).toContain('nova_kms_http_requests_total{route="unmatched",method="POST",status="404"} 1\n')
    expect(text).toContain('nova_kms_http_requests_total{route="unmatched",method="GET",status="404"} 1\n')
    expect(text).not.toContain('wp-admin')
    expect(text).toContain('nova_kms_http_request_duration_seconds_count{route="unmatched"} 2\n')
  })

  it('behavior: the duration goes to the template\'s histogram in seconds', async () => {
    const { server, rendered } = app([1000, 1003])
    await server.request('/kms/data/x')
    const text = rendered()
    expect(text).toContain('nova_kms_http_request_duration_seconds_bucket{route="/kms/data/*",le="0.0025"} 0\n')
    expect(text).toContain('nova_kms_http_request_duration_seconds_bucket{route="/kms/data/*",le="0.005"} 1\n')
    expect(text).toContain('nova_kms_http_request_duration_seconds_sum{route="/kms/data/*"} 0.003\n')
    expect(text).toContain('nova_kms_http_request_duration_seconds_count{route="/kms/data/*"} 1\n')
  })

  it('behavior: each request is logged at debug with its id, method, template, status and ms', async () => {
    const { server, logs } = app([0, 12.4])
    await server.request('/kms/data/missing', { method: 'GET' })
    expect(logs).toContainEqual({
      level: 'debug',
      message: 'request',
      fields: { requestId: 'obs-1', method: 'GET', route: '/kms/data/*', status: 404, ms: 12 },
    })
  })
})
