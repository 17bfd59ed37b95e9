/**
 * The error mapper (PROTOCOL §0, §11, §12.4): a `KmsError` becomes its status, the exact
 * `{"code","message"}` body and its headers; anything else is a generic 500 that leaks
 * nothing and is logged with the request id; a 500 `KmsError` (a configuration error naming
 * its variable) passes through and is logged too.
 */
import { describe, expect, it, vi } from 'vitest'
import { KmsError } from '../../../../core/errors'
import type { LogFields, LogLevel } from '../../../../core/log'
import { errorResponse, mapError } from '../../../../functions/_stages/errorMapper'
import { context, stageApp } from '../_helpers'

function app(thrown: () => unknown, withNode = true) {
  const logs: { level: LogLevel; message: string; fields?: LogFields }[] = []
  // The only node field the mapper reads is log.
  const node = { log: (level: LogLevel, message: string, fields?: LogFields) => logs.push({ level, message, fields }) }
  const server = stageApp()
  server.use(context(withNode ? { node, requestId: 'req-42' } : { requestId: 'req-43' }))
  server.get('/x', () => {
    throw thrown()
  })
  server.onError(mapError)
  return { server, logs }
}

describe('error mapper', () => {
  it('behavior: a KmsError becomes its status, the exact body and JSON', async () => {
    const { server, logs } = app(() => new KmsError('not_found', 'Key not found: a b'))
    const response = await server.request('/x')
    expect(response.status).toBe(404)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(await response.text()).toBe('{"code":"not_found","message":"Key not found: a b"}')
    expect(logs).toEqual([])
  })

  it('behavior: the error\'s headers reach the response (Retry-After, Allow)', async () => {
    const limited = await app(() => new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': '12' } })).server.request('/x')
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('12')
    const wrongMethod = await app(() => new KmsError('method_not_allowed', 'Method not allowed', { headers: { allow: 'GET, HEAD' } })).server.request('/x')
    expect(wrongMethod.status).toBe(405)
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD')
  })

  it('error: details and cause of a KmsError never reach the wire', async () => {
    const { server } = app(() => new KmsError('decryption_failed', 'Decryption failed', { details: 'app 49 key k', cause: new Error('tag mismatch at 0xdeadbeef') }))
    const response = await server.request('/x')
    expect(response.status).toBe(400)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ code: 'decryption_failed', message: 'Decryption failed' })
    expect(text).not.toContain('deadbeef')
    expect(text).not.toContain('app 49')
  })

  it('error: a plain Error is a generic 500 that leaks nothing, logged with the request id', async () => {
    const { server, logs } = app(() => new Error('secret at /etc/nova/master.key'))
    const response = await server.request('/x')
    expect(response.status).toBe(500)
    const text = await response.text()
    expect(JSON.parse(text)).toEqual({ code: 'internal_error', message: 'Internal server error' })
    expect(text).not.toContain('master.key')
    expect(text).not.toContain('at ')
    expect(logs).toHaveLength(1)
    expect(logs[0]!.level).toBe('error')
    expect(logs[0]!.message).toBe('unhandled error')
    expect(logs[0]!.fields?.['requestId']).toBe('req-42')
    expect(String(logs[0]!.fields?.['error'])).toContain('secret at /etc/nova/master.key')
  })

  it('error: a TypeError from a bug is the same generic 500', async () => {
    const { server } = app(() => new TypeError("Cannot read properties of undefined (reading 'x')"))
    const response = await server.request('/x')
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ code: 'internal_error', message: 'Internal server error' })
  })

  it('behavior: a 500 KmsError naming a configuration variable passes through, and is logged', async () => {
    const message = 'Invalid configuration: LOG_LEVEL must be DEBUG, INFO, WARN, ERROR'
    const { server, logs } = app(() => new KmsError('internal_error', message))
    const response = await server.request('/x')
    expect(response.status).toBe(500)
    expect(await response.json()).toEqual({ code: 'internal_error', message })
    expect(logs.map((entry) => entry.fields?.['requestId'])).toEqual(['req-42'])
  })

  it('error: without a node (the provider failed) the bug is logged to the console with the request id', async () => {
    const console = vi.spyOn(globalThis.console, 'error').mockImplementation(() => undefined)
    try {
      const { server } = app(() => new Error('boom'), false)
      const response = await server.request('/x')
      expect(response.status).toBe(500)
      expect(await response.json()).toEqual({ code: 'internal_error', message: 'Internal server error' })
      expect(console).toHaveBeenCalledTimes(1)
      expect(console).toHaveBeenCalledWith('unhandled error', expect.objectContaining({ requestId: 'req-43' }))
    } finally {
      console.mockRestore()
    }
  })

  it('behavior: errorResponse builds the same response outside hono', async () => {
    const response = errorResponse(new KmsError('payload_too_large', 'Request body too large'))
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ code: 'payload_too_large', message: 'Request body too large' })
  })
})
