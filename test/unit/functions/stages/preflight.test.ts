/**
 * Stage `preflight` (PROTOCOL §2 "CORS"): `OPTIONS` to any path is 204 with the exact §2
 * header values and never reaches the handler; every other method passes through.
 */
import { describe, expect, it } from 'vitest'
import { cors } from '../../../../functions/_stages/cors'
import { CORS_ALLOW_HEADERS, CORS_ALLOW_METHODS, preflight } from '../../../../functions/_stages/preflight'
import { stageApp } from '../_helpers'

const ALLOW_METHODS = 'GET, POST, PUT, DELETE, OPTIONS'
const ALLOW_HEADERS =
  'content-type, x-app-signature, x-app-nonce, x-app-timestamp, x-app-wallet, x-nitro-attestation, ' +
  'x-kms-signature, x-kms-nonce, x-kms-timestamp, x-kms-wallet, x-sync-signature, x-app-auth-version, x-app-content-sha256, x-sync-version'

function app() {
  let handled = 0
  const server = stageApp()
  server.use(cors())
  server.use(preflight())
  server.all('*', () => {
    handled++
    return new Response('handled')
  })
  return { server, handled: () => handled }
}

describe('preflight stage', () => {
  it('behavior: the allowed lists are exactly the §2 ones', () => {
    expect(CORS_ALLOW_METHODS).toBe(ALLOW_METHODS)
    expect(CORS_ALLOW_HEADERS).toBe(ALLOW_HEADERS)
  })

  it('behavior: OPTIONS is 204 with the §2 headers and no body, and never reaches the handler', async () => {
    const { server, handled } = app()
    const response = await server.request('/kms/derive', {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-app-signature' },
    })
    expect(response.status).toBe(204)
    expect(response.headers.get('access-control-allow-methods')).toBe(ALLOW_METHODS)
    expect(response.headers.get('access-control-allow-headers')).toBe(ALLOW_HEADERS)
    expect(response.headers.get('access-control-max-age')).toBe('600')
    // From the cors stage around it: the same three exposed headers, origin *.
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
    expect(response.headers.get('access-control-expose-headers')).toBe('x-kms-response-signature, x-kms-peer-signature, x-kms-response-binding, x-kms-peer-binding, x-kms-request-id, retry-after')
    expect(response.headers.get('access-control-allow-credentials')).toBeNull()
    expect(response.headers.get('vary')).toBeNull()
    expect(await response.text()).toBe('')
    expect(handled()).toBe(0)
  })

  it('behavior: OPTIONS to any path, known or not, is the same 204', async () => {
    const { server, handled } = app()
    for (const path of ['/', '/nowhere/at/all', '/kms/data/some%20key', '/sync?x=1']) {
      const response = await server.request(path, { method: 'OPTIONS' })
      expect(response.status).toBe(204)
      expect(response.headers.get('access-control-allow-methods')).toBe(ALLOW_METHODS)
    }
    expect(handled()).toBe(0)
  })

  it('behavior: other methods pass through to the handler without preflight headers', async () => {
    const { server, handled } = app()
    for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
      const response = await server.request('/x', { method })
      expect(response.status).toBe(200)
      expect(await response.text()).toBe('handled')
      expect(response.headers.get('access-control-allow-methods')).toBeNull()
    }
    expect(handled()).toBe(4)
  })
})
