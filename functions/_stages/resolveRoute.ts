/**
 * Stage: finds the function for the path, so that the limits know the route's policy.
 * Nothing is refused here: 404 and 405 come at pipeline step 3 (`routeGuard`), after the
 * limits, as PROTOCOL §2 orders them.
 */
import type { MiddlewareHandler } from 'hono'
import type { RouteTable } from '../_routeTable'
import type { PipelineEnv } from './_env'

export function resolveRoute(table: RouteTable): MiddlewareHandler<PipelineEnv> {
  return async function resolveRouteStage(c, next) {
    c.set('route', table.match(new URL(c.req.url).pathname))
    await next()
  }
}
