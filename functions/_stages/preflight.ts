/**
 * Stage: `OPTIONS` to any path gets 204 at pipeline step 3, after the limits and before
 * routing, so it is never 404, 405 or 503 (PROTOCOL §2 "CORS").
 *
 * hono's `cors` middleware answers a preflight wherever it is mounted but writes its lists
 * without spaces and adds `Vary`; this stage keeps the exact §2 header values.
 */
import type { MiddlewareHandler } from 'hono'
import type { PipelineEnv } from './_env'

export const CORS_ALLOW_METHODS = 'GET, POST, PUT, DELETE, OPTIONS'

export const CORS_ALLOW_HEADERS = [
  'content-type',
  'x-app-signature',
  'x-app-nonce',
  'x-app-timestamp',
  'x-app-wallet',
  'x-nitro-attestation',
  'x-kms-signature',
  'x-kms-nonce',
  'x-kms-timestamp',
  'x-kms-wallet',
  'x-sync-signature',
  'x-app-auth-version',
  'x-app-content-sha256',
  'x-sync-version',
].join(', ')

export function preflight(): MiddlewareHandler<PipelineEnv> {
  return async function preflightStage(c, next) {
    if (c.req.method !== 'OPTIONS') return next()
    return new Response(null, {
      status: 204,
      headers: {
        'access-control-allow-methods': CORS_ALLOW_METHODS,
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': '600',
      },
    })
  }
}
