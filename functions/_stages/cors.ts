/**
 * Stage: CORS headers on every response (PROTOCOL §2 "CORS"), including the errors of the
 * limits that run before routing. Browsers read exposed headers from the actual response,
 * not from the preflight, and credentials are never allowed. The preflight itself is the
 * `preflight` stage, at pipeline step 3.
 */
import type { MiddlewareHandler } from 'hono'
import type { PipelineEnv } from './_env'

export const CORS_EXPOSE_HEADERS = 'x-kms-response-signature, x-kms-peer-signature, x-kms-response-binding, x-kms-peer-binding, x-kms-request-id, retry-after'

export function cors(): MiddlewareHandler<PipelineEnv> {
  return async function corsStage(c, next) {
    await next()
    c.res.headers.set('access-control-allow-origin', '*')
    c.res.headers.set('access-control-expose-headers', CORS_EXPOSE_HEADERS)
  }
}
