/**
 * Stage `readinessGate` (PROTOCOL §2 step 4, §7.3): while the node is unavailable, routes
 * with `gate: 'ready'` answer 503 `service_unavailable` with the reason; other routes pass.
 */
import { describe, expect, it } from 'vitest'
import { Readiness } from '../../../../core/cluster'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { readinessGate } from '../../../../functions/_stages/readinessGate'
import { context, errorBody, probeFunction, stageApp } from '../_helpers'

function app() {
  const readiness = new Readiness()
  // The node field readinessGate reads.
  const node = { readiness }
  const functions = [
    probeFunction({ routes: [{ path: '/kms/derive', methods: ['POST'] }], gate: 'ready' }),
    probeFunction({ routes: [{ path: '/status', methods: ['GET'] }], gate: 'none' }),
  ]
  let reached = 0
  const server = stageApp()
  server.use(context({ node, functions }))
  server.use(readinessGate())
  server.all('*', () => {
    reached++
    return new Response('passed')
  })
  server.onError(mapError)
  return { server, readiness, reached: () => reached }
}

describe('readinessGate stage', () => {
  it('error: a ready route answers 503 with the reason while the node initializes', async () => {
    const { server, reached } = app()
    const response = await server.request('/kms/derive', { method: 'POST' })
    expect(response.status).toBe(503)
    expect(await errorBody(response)).toEqual({ code: 'service_unavailable', message: 'initializing' })
    expect(reached()).toBe(0)
  })

  it('error: the message is the current reason', async () => {
    const { server, readiness } = app()
    for (const reason of ['master secret sync failed', 'self not in KMS node list', 'awaiting on-chain master secret hash'] as const) {
      readiness.markUnavailable(reason)
      const response = await server.request('/kms/derive', { method: 'POST' })
      expect(response.status).toBe(503)
      expect(await errorBody(response)).toEqual({ code: 'service_unavailable', message: reason })
    }
  })

  it('behavior: routes without the ready gate, and unknown paths, pass while unavailable', async () => {
    const { server, reached } = app()
    expect((await server.request('/status')).status).toBe(200)
    expect((await server.request('/nowhere')).status).toBe(200)
    expect(reached()).toBe(2)
  })

  it('behavior: a ready route passes once the node is available, and is refused again when it is not', async () => {
    const { server, readiness, reached } = app()
    readiness.markAvailable()
    expect((await server.request('/kms/derive', { method: 'POST' })).status).toBe(200)
    expect(reached()).toBe(1)
    readiness.markUnavailable('cannot read master secret hash')
    const response = await server.request('/kms/derive', { method: 'POST' })
    expect(response.status).toBe(503)
    expect((await errorBody(response)).message).toBe('cannot read master secret hash')
  })
})
