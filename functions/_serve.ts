/**
 * The request pipeline of PROTOCOL §2 as named hono stages, around any set of functions:
 *
 *   requestId → cors → provideNode → observe → resolveRoute → admission (§12.3)
 *     → clientLimits (§2 step 1) → bodyLimit (step 2) → preflight, routeGuard (step 3)
 *     → readinessGate (step 4) → the function (step 5)
 *
 * with one error mapper. `serve` adds the scheduled tick, which makes a module worker:
 * `export default serve([nonce, derive])` is a working KMS worker for those two routes.
 *
 * @module
 */
import { Hono, type Context, type ExecutionContext } from 'hono'
import type { TickName } from '../core/cluster'
import { runDueTicks } from '../core/nodeTicks'
import type { KmsFunction } from './_define'
import { defaultNodeProvider, type NodeProvider } from './_nodeProvider'
import { buildRouteTable } from './_routeTable'
import type { PipelineEnv } from './_stages/_env'
import { admission } from './_stages/admission'
import { bodyLimit } from './_stages/bodyLimit'
import { clientLimits, nodeServerSocketAddress } from './_stages/clientLimits'
import { cors } from './_stages/cors'
import { mapError } from './_stages/errorMapper'
import { observe } from './_stages/observe'
import { preflight } from './_stages/preflight'
import { provideNode } from './_stages/provideNode'
import { readinessGate } from './_stages/readinessGate'
import { requestId } from './_stages/requestId'
import { resolveRoute } from './_stages/resolveRoute'
import { routeGuard } from './_stages/routeGuard'

export interface PipelineOptions {
  /** Where the node comes from; by default one node per isolate, built from `env`. */
  nodeProvider?: NodeProvider
  /** The caller's socket address, for the per-client limiters (default: `@hono/node-server`'s). */
  socketAddress?: (c: Context) => string | undefined
}

/** The pipeline around `functions`, as a hono app (its `fetch` is a fetch handler). */
export function createPipeline(functions: readonly KmsFunction[], options: PipelineOptions = {}): Hono<PipelineEnv> {
  const table = buildRouteTable(functions)
  const app = new Hono<PipelineEnv>()
  app.use(requestId())
  app.use(cors())
  app.use(provideNode(options.nodeProvider ?? defaultNodeProvider))
  app.use(observe())
  app.use(resolveRoute(table))
  app.use(admission())
  app.use(clientLimits(options.socketAddress ?? nodeServerSocketAddress))
  app.use(bodyLimit())
  app.use(preflight())
  app.use(routeGuard())
  app.use(readinessGate())
  // routeGuard has ensured a route; the function reads only its own view of the node.
  app.all('*', (c) => c.get('route')!.fn.handle(c.req.raw, c.get('node')))
  app.onError(mapError)
  return app
}

/** What workerd passes to `scheduled()`; a cron of `node_tick` or `sync_tick` forces that tick. */
export interface ScheduledEvent {
  cron?: string
}

/** The module-worker shape (DESIGN §3), checked with `satisfies` where it is exported. */
export interface ModuleWorker {
  fetch(request: Request, env?: unknown, context?: ExecutionContext): Response | Promise<Response>
  scheduled(event: ScheduledEvent, env?: unknown): Promise<void>
}

function forcedTick(event: ScheduledEvent): TickName | undefined {
  return event.cron === 'node_tick' || event.cron === 'sync_tick' ? event.cron : undefined
}

/**
 * The scheduled handler alone, on the default node provider: with a function's own `fetch`
 * it makes a one-function worker, `{ fetch: derive.fetch, scheduled: scheduledTick }`.
 */
export async function scheduledTick(event: ScheduledEvent, env?: unknown): Promise<void> {
  await runDueTicks(await defaultNodeProvider(env), forcedTick(event))
}

/**
 * A module worker serving `functions`: `fetch` runs the pipeline, and `scheduled` runs the
 * due ticks (or the one a test forces), so the node becomes ready on its own.
 */
export function serve(functions: readonly KmsFunction[], options: PipelineOptions = {}): ModuleWorker {
  const app = createPipeline(functions, options)
  const provider = options.nodeProvider ?? defaultNodeProvider
  return {
    fetch: (request, env, context) => app.fetch(request, env, context),
    async scheduled(event, env) {
      await runDueTicks(await provider(env), forcedTick(event))
    },
  }
}
