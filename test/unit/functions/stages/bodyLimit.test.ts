/**
 * Stage `bodyLimit` (PROTOCOL §2 step 2, §12.1): a declared `Content-Length` above the
 * route's limit (`MAX_REQUEST_BODY_BYTES`, or `MAX_SYNC_PAYLOAD_BYTES` for /sync) is 413
 * at once, without reading the body; anything else passes unread.
 */
import { describe, expect, it } from 'vitest'
import type { NodeConfig } from '../../../../core/config'
import { bodyLimit, bodyLimitOf } from '../../../../functions/_stages/bodyLimit'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { context, errorBody, probeFunction, stageApp } from '../_helpers'

const REQUEST_LIMIT = 10
const SYNC_LIMIT = 100

function app() {
  // The node field bodyLimit reads: the two limits of its config.
  const node = { config: { maxRequestBodyBytes: REQUEST_LIMIT, maxSyncPayloadBytes: SYNC_LIMIT } }
  const functions = [
    probeFunction({ routes: [{ path: '/kms/data', methods: ['PUT'] }], bodyLimit: 'request' }),
    probeFunction({ routes: [{ path: '/sync', methods: ['POST'] }], bodyLimit: 'sync' }),
  ]
  let reached = 0
  const server = stageApp()
  server.use(context({ node, functions }))
  server.use(bodyLimit())
  server.all('*', () => {
    reached++
    return new Response('passed')
  })
  server.onError(mapError)
  return { server, reached: () => reached }
}

/** A request whose body never ends: reading it would hang the test. */
function endlessRequest(path: string, declared: string): Request {
  const body = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => undefined) })
  return new Request(`http://kms.test${path}`, { method: 'POST', headers: { 'content-length': declared }, body, duplex: 'half' } as RequestInit)
}

describe('bodyLimit stage', () => {
  it('error: a declared length above the request limit is 413 without reading the body', async () => {
    const { server, reached } = app()
    const request = endlessRequest('/kms/data', String(REQUEST_LIMIT + 1))
    const response = await server.fetch(request)
    expect(response.status).toBe(413)
    expect(await errorBody(response)).toEqual({ code: 'payload_too_large', message: 'Request body too large' })
    expect(request.bodyUsed).toBe(false)
    expect(reached()).toBe(0)
  })

  it('behavior: a declared length at the limit passes, unread', async () => {
    const { server, reached } = app()
    const request = endlessRequest('/kms/data', String(REQUEST_LIMIT))
    const response = await server.fetch(request)
    expect(response.status).toBe(200)
    expect(request.bodyUsed).toBe(false)
    expect(reached()).toBe(1)
  })

  it('behavior: /sync has the sync limit, not the request one', async () => {
    const { server } = app()
    expect((await server.fetch(endlessRequest('/sync', String(REQUEST_LIMIT + 1)))).status).toBe(200)
    expect((await server.fetch(endlessRequest('/sync', String(SYNC_LIMIT)))).status).toBe(200)
    expect((await server.fetch(endlessRequest('/sync', String(SYNC_LIMIT + 1)))).status).toBe(413)
  })

  it('error: a path no function serves has the request limit (413 comes before 404)', async () => {
    const { server } = app()
    expect((await server.fetch(endlessRequest('/nowhere', String(REQUEST_LIMIT + 1)))).status).toBe(413)
    expect((await server.fetch(endlessRequest('/nowhere', String(REQUEST_LIMIT)))).status).toBe(200)
  })

  it('behavior: a body without a declared length, or with a non-numeric one, is left to the handler\'s counted read', async () => {
    const { server, reached } = app()
    const stream = await server.request('/kms/data', { method: 'PUT', body: 'x'.repeat(REQUEST_LIMIT * 5) })
    expect(stream.status).toBe(200)
    const odd = await server.fetch(endlessRequest('/kms/data', 'lots'))
    expect(odd.status).toBe(200)
    expect(reached()).toBe(2)
  })

  it('behavior: bodyLimitOf picks the limit by policy', () => {
    const config = { maxRequestBodyBytes: 1, maxSyncPayloadBytes: 2 } as NodeConfig
    expect(bodyLimitOf({ bodyLimit: 'sync' }, config)).toBe(2)
    expect(bodyLimitOf({ bodyLimit: 'request' }, config)).toBe(1)
    expect(bodyLimitOf(undefined, config)).toBe(1)
  })
})
