/**
 * Stage: the route's gate (PROTOCOL §2 step 4). While `service_available` is false, `ready`
 * routes answer 503 `service_unavailable` with the reason (§7.3), before any auth.
 */
import type { MiddlewareHandler } from 'hono'
import { KmsError } from '../../core/errors'
import type { PipelineEnv } from './_env'

export function readinessGate(): MiddlewareHandler<PipelineEnv> {
  return async function readinessGateStage(c, next) {
    const { readiness } = c.get('node')
    if (c.get('route')?.fn.policy.gate === 'ready' && !readiness.available) {
      throw new KmsError('service_unavailable', readiness.reason || 'initializing')
    }
    await next()
  }
}
