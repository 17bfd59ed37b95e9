/**
 * Stage: the declared body size (PROTOCOL §2 step 2, §12.1). A `Content-Length` above the
 * route's limit is refused before anything reads the body; a body without one is counted
 * while the handler reads it (`readBodyBytes`), which stops at the same limit.
 *
 * hono's `bodyLimit` middleware buffers a body that has no `Content-Length` before the route
 * runs, which would read unauthenticated bytes up front; this stage reads nothing.
 */
import type { MiddlewareHandler } from 'hono'
import { KmsError } from '../../core/errors'
import type { NodeConfig } from '../../core/config'
import type { FunctionPolicy } from '../_define'
import type { PipelineEnv } from './_env'

/** `POST /recovery/share` (§7.6): one sealed submission is about 1.3 KB. */
export const RECOVERY_BODY_LIMIT_BYTES = 8 * 1024

export function bodyLimitOf(policy: Pick<FunctionPolicy, 'bodyLimit'> | undefined, config: NodeConfig): number {
  if (policy?.bodyLimit === 'recovery') return Math.min(RECOVERY_BODY_LIMIT_BYTES, config.maxRequestBodyBytes)
  return policy?.bodyLimit === 'sync' ? config.maxSyncPayloadBytes : config.maxRequestBodyBytes
}

export function bodyLimit(): MiddlewareHandler<PipelineEnv> {
  return async function bodyLimitStage(c, next) {
    const limit = bodyLimitOf(c.get('route')?.fn.policy, c.get('node').config)
    const declared = c.req.header('content-length')
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limit) {
      throw new KmsError('payload_too_large', 'Request body too large')
    }
    await next()
  }
}
