/**
 * Stage `requestId`: the caller's `x-request-id` is kept (at most 128 characters) or a fresh
 * one is made, the handlers see it, and every answer echoes it, errors included.
 */
import fc from 'fast-check'
import { describe, expect, it, vi } from 'vitest'
import { KmsError } from '../../../../core/errors'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { requestId } from '../../../../functions/_stages/requestId'
import { stageApp } from '../_helpers'

function app() {
  let generated = 0
  const server = stageApp()
  server.use(requestId(() => `generated-${++generated}`))
  server.get('/ok', (c) => c.json({ seen: c.get('requestId') }))
  // A raw Response, as the functions return: the stage must set the header on it.
  server.get('/raw', () => new Response('raw', { status: 202 }))
  server.get('/refused', () => {
    throw new KmsError('not_found', 'Key not found: a')
  })
  server.get('/bug', () => {
    throw new Error('boom')
  })
  server.onError(mapError)
  return server
}

describe('requestId stage', () => {
  it('behavior: a caller id is echoed on the answer and visible to the handler', async () => {
    const response = await app().request('/ok', { headers: { 'x-request-id': 'abc-123' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('x-request-id')).toBe('abc-123')
    expect(await response.json()).toEqual({ seen: 'abc-123' })
  })

  it('behavior: without a caller id a fresh one is generated per request', async () => {
    const server = app()
    const first = await server.request('/ok')
    const second = await server.request('/ok')
    expect(first.headers.get('x-request-id')).toBe('generated-1')
    expect(await first.json()).toEqual({ seen: 'generated-1' })
    expect(second.headers.get('x-request-id')).toBe('generated-2')
  })

  it('behavior: an empty caller id counts as absent', async () => {
    const response = await app().request('/ok', { headers: { 'x-request-id': '' } })
    expect(response.headers.get('x-request-id')).toBe('generated-1')
  })

  it('behavior: the default generator makes a UUID', async () => {
    const server = stageApp()
    server.use(requestId())
    server.get('/ok', (c) => c.text('ok'))
    const response = await server.request('/ok')
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it('behavior: a raw Response from a handler carries the id', async () => {
    const response = await app().request('/raw', { headers: { 'x-request-id': 'raw-id' } })
    expect(response.status).toBe(202)
    expect(response.headers.get('x-request-id')).toBe('raw-id')
  })

  it('error: a refusal and a bug both echo the id', async () => {
    // No node in this app: the mapper logs the bug to the console, which stays quiet here.
    const console = vi.spyOn(globalThis.console, 'error').mockImplementation(() => undefined)
    const refused = await app().request('/refused', { headers: { 'x-request-id': 'refused-id' } })
    expect(refused.status).toBe(404)
    expect(refused.headers.get('x-request-id')).toBe('refused-id')
    const bug = await app().request('/bug', { headers: { 'x-request-id': 'bug-id' } })
    expect(bug.status).toBe(500)
    expect(bug.headers.get('x-request-id')).toBe('bug-id')
    expect(console).toHaveBeenCalledWith('unhandled error', expect.objectContaining({ requestId: 'bug-id' }))
    console.mockRestore()
  })

  it('error: an unknown path (hono not-found) echoes the id', async () => {
    const response = await app().request('/nowhere', { headers: { 'x-request-id': 'lost' } })
    expect(response.status).toBe(404)
    expect(response.headers.get('x-request-id')).toBe('lost')
  })

  it('behavior: a caller id longer than 128 characters is cut to its first 128', async () => {
    const long = 'a'.repeat(100) + 'b'.repeat(100)
    const response = await app().request('/ok', { headers: { 'x-request-id': long } })
    expect(response.headers.get('x-request-id')).toBe(long.slice(0, 128))
    expect(await response.json()).toEqual({ seen: long.slice(0, 128) })
    const error = await app().request('/refused', { headers: { 'x-request-id': long } })
    expect(error.headers.get('x-request-id')).toHaveLength(128)
  })

  it('property: the echoed id is the caller id cut to 128 characters', async () => {
    const server = app()
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9._~-]{1,300}$/), async (id) => {
        const response = await server.request('/ok', { headers: { 'x-request-id': id } })
        expect(response.headers.get('x-request-id')).toBe(id.slice(0, 128))
      }),
      { numRuns: 50 },
    )
  })
})
