/**
 * Stage `routeGuard` (PROTOCOL §2 step 3): a path no function serves is 404 `not_found`, a
 * method the route does not list is 405 `method_not_allowed` with `Allow`, and a listed
 * method reaches the handler.
 */
import { describe, expect, it } from 'vitest'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { routeGuard } from '../../../../functions/_stages/routeGuard'
import { context, errorBody, probeFunction, stageApp } from '../_helpers'

function app() {
  const functions = [
    probeFunction({ routes: [{ path: '/status', methods: ['GET', 'HEAD'] }] }),
    probeFunction({ routes: [{ path: '/nonce', methods: ['GET'] }] }),
    probeFunction({ routes: [{ path: '/kms/data', methods: ['GET', 'PUT', 'DELETE'] }, { path: '/kms/data/*', methods: ['GET'] }] }),
  ]
  let reached = 0
  const server = stageApp()
  server.use(context({ functions }))
  server.use(routeGuard())
  server.all('*', () => {
    reached++
    return new Response('passed')
  })
  server.onError(mapError)
  return { server, reached: () => reached }
}

describe('routeGuard stage', () => {
  it('error: an unknown path is 404 not_found, whatever the method', async () => {
    const { server, reached } = app()
    for (const method of ['GET', 'POST', 'DELETE']) {
      const response = await server.request('/nowhere', { method })
      expect(response.status).toBe(404)
      expect(await errorBody(response)).toEqual({ code: 'not_found', message: 'Not found' })
    }
    expect(reached()).toBe(0)
  })

  it('error: a method the route does not list is 405 with Allow', async () => {
    const { server, reached } = app()
    const response = await server.request('/kms/data', { method: 'POST' })
    expect(response.status).toBe(405)
    expect(await errorBody(response)).toEqual({ code: 'method_not_allowed', message: 'Method not allowed' })
    expect(response.headers.get('allow')).toBe('GET, PUT, DELETE')
    const prefixed = await server.request('/kms/data/k', { method: 'PUT' })
    expect(prefixed.status).toBe(405)
    expect(prefixed.headers.get('allow')).toBe('GET')
    expect(reached()).toBe(0)
  })

  it('behavior: listed methods reach the handler', async () => {
    const { server, reached } = app()
    expect((await server.request('/kms/data', { method: 'PUT' })).status).toBe(200)
    expect((await server.request('/kms/data', { method: 'DELETE' })).status).toBe(200)
    expect((await server.request('/kms/data/a/b')).status).toBe(200)
    expect(reached()).toBe(3)
  })

  it('behavior: HEAD passes only where the route lists it', async () => {
    const { server, reached } = app()
    const status = await server.request('/status', { method: 'HEAD' })
    expect(status.status).toBe(200)
    expect(await status.text()).toBe('')
    const nonce = await server.request('/nonce', { method: 'HEAD' })
    expect(nonce.status).toBe(405)
    expect(nonce.headers.get('allow')).toBe('GET')
    expect(reached()).toBe(1)
  })
})
