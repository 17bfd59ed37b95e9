/**
 * Stage `cors` (PROTOCOL §2 "CORS"): every response carries `Access-Control-Allow-Origin: *`
 * and the three exposed headers, errors of later stages included, and never allows
 * credentials.
 */
import { describe, expect, it } from 'vitest'
import { KmsError } from '../../../../core/errors'
import { cors, CORS_EXPOSE_HEADERS } from '../../../../functions/_stages/cors'
import { mapError } from '../../../../functions/_stages/errorMapper'
import { stageApp } from '../_helpers'

const EXPOSED = 'x-kms-response-signature, x-kms-peer-signature, x-kms-response-binding, x-kms-peer-binding, x-kms-request-id, retry-after'

function expectCors(response: Response): void {
  expect(response.headers.get('access-control-allow-origin')).toBe('*')
  expect(response.headers.get('access-control-expose-headers')).toBe(EXPOSED)
  expect(response.headers.get('access-control-allow-credentials')).toBeNull()
}

function app() {
  const server = stageApp()
  server.use(cors())
  // A stage after cors that refuses, as clientLimits does before routing.
  server.use(async (c, next) => {
    if (c.req.header('x-limited') === '1') {
      throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': '7' } })
    }
    await next()
  })
  server.get('/ok', () => new Response('ok'))
  server.get('/refused', () => {
    throw new KmsError('forbidden', 'sender_tee_pubkey does not match on-chain registration')
  })
  server.onError(mapError)
  return server
}

describe('cors stage', () => {
  it('behavior: the exposed list is exactly the §2 one', () => {
    expect(CORS_EXPOSE_HEADERS).toBe(EXPOSED)
  })

  it('behavior: a success carries the CORS headers', async () => {
    const response = await app().request('/ok', { headers: { origin: 'https://app.example' } })
    expect(response.status).toBe(200)
    expectCors(response)
    expect(await response.text()).toBe('ok')
  })

  it('error: an error thrown by an earlier stage carries them, with its own headers kept', async () => {
    const response = await app().request('/ok', { headers: { 'x-limited': '1' } })
    expect(response.status).toBe(429)
    expectCors(response)
    expect(response.headers.get('retry-after')).toBe('7')
    expect(await response.json()).toEqual({ code: 'rate_limited', message: 'Rate limit exceeded' })
  })

  it('error: a handler refusal and hono\'s own not-found carry them', async () => {
    const refused = await app().request('/refused')
    expect(refused.status).toBe(403)
    expectCors(refused)
    const missing = await app().request('/missing')
    expect(missing.status).toBe(404)
    expectCors(missing)
  })

  it('behavior: a handler\'s own allow-origin is replaced by *', async () => {
    const server = stageApp()
    server.use(cors())
    server.get('/x', () => new Response('x', { headers: { 'access-control-allow-origin': 'https://evil.example' } }))
    const response = await server.request('/x')
    expect(response.headers.get('access-control-allow-origin')).toBe('*')
  })
})
