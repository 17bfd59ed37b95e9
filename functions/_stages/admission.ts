/**
 * Stage: admission (PROTOCOL §12.3, M2). A request is admitted only while fewer than
 * `MAX_CONCURRENT_REQUESTS` are in progress (503 with `Retry-After: 1` beyond), and when it
 * ends, the body bytes it buffered are released from the node-wide budget that
 * `readBodyBytes` charges. /health answers regardless, so that liveness probes still see
 * a busy node alive.
 */
import type { MiddlewareHandler } from 'hono'
import type { PipelineEnv } from './_env'

export function admission(): MiddlewareHandler<PipelineEnv> {
  return async function admissionStage(c, next) {
    if (c.get('route')?.template === '/health') return next()
    const { admission: gate } = c.get('node')
    gate.enter()
    try {
      await next()
    } finally {
      gate.leave(c.req.raw)
    }
  }
}
