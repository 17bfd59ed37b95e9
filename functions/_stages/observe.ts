/**
 * Stage: metrics and logging (PROTOCOL §2.8). Every answer, errors included, is counted by
 * route template, method and status, with its duration; at `DEBUG` it is logged too. The
 * stage runs inside `provideNode`, so a request that never got a node is not counted.
 */
import type { MiddlewareHandler } from 'hono'
import type { PipelineEnv } from './_env'

const UNMATCHED = 'unmatched'

export function observe(now: () => number = () => performance.now()): MiddlewareHandler<PipelineEnv> {
  return async function observeStage(c, next) {
    const started = now()
    await next()
    const seconds = (now() - started) / 1000
    const node = c.get('node')
    const template = c.get('route')?.template ?? UNMATCHED
    const method = c.req.method
    const status = c.res.status
    node.metrics.recordRequest(template, method, status, seconds)
    node.log('debug', 'request', { requestId: c.get('requestId'), method, route: template, status, ms: Math.round(seconds * 1000) })
  }
}
