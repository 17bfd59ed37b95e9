/**
 * Stage: routing's refusals (PROTOCOL §2 step 3). A path no function serves is 404
 * `not_found`; a method the route does not list is 405 `method_not_allowed` with `Allow`.
 */
import type { MiddlewareHandler } from 'hono'
import { KmsError } from '../../core/errors'
import type { HttpMethod } from '../_define'
import type { PipelineEnv } from './_env'

export function routeGuard(): MiddlewareHandler<PipelineEnv> {
  return async function routeGuardStage(c, next) {
    const route = c.get('route')
    if (route === undefined) throw new KmsError('not_found', 'Not found')
    if (!route.methods.includes(c.req.method as HttpMethod)) {
      throw new KmsError('method_not_allowed', 'Method not allowed', { headers: { allow: route.methods.join(', ') } })
    }
    await next()
  }
}
