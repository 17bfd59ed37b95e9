/**
 * Stage: the request id. The caller's `x-request-id` is kept (at most 128 characters) or a
 * fresh UUID is made, and every answer echoes it, errors included.
 *
 * hono's `requestId` middleware sets its header through the context, which a raw `Response`
 * returned by a handler does not carry, so this stage sets it on the final response.
 */
import type { MiddlewareHandler } from 'hono'
import type { PipelineEnv } from './_env'

const MAX_REQUEST_ID_LENGTH = 128

export function requestId(generate: () => string = () => globalThis.crypto.randomUUID()): MiddlewareHandler<PipelineEnv> {
  return async function requestIdStage(c, next) {
    const id = c.req.header('x-request-id')?.slice(0, MAX_REQUEST_ID_LENGTH) || generate()
    c.set('requestId', id)
    await next()
    c.res.headers.set('x-request-id', id)
  }
}
