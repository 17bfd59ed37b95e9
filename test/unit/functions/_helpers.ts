/**
 * Shared fixtures for the in-process suites of `functions/`: a dev-mode `KmsNode` with an
 * injected clock, randomness and log writer (nothing reaches the network until a tick
 * runs), small functions made with `defineFunction`, and a hono app that mounts one stage
 * with only the context variables it reads.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import type { LogFields, LogLevel } from '../../../core/log'
import { KmsNode } from '../../../core/node'
import { defineFunction, type FunctionPolicy, type KmsFunction } from '../../../functions/_define'
import { jsonResponse } from '../../../functions/_http'
import { buildRouteTable } from '../../../functions/_routeTable'
import type { PipelineEnv } from '../../../functions/_stages/_env'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

/** 2026-01-01T00:00:00Z. */
export const T0_MS = 1_767_225_600_000

export interface LogEntry {
  level: LogLevel
  message: string
  fields: LogFields | undefined
}

/** A real dev-mode node (`IN_ENCLAVE=false`); its `fetch` refuses, so a stray network call fails loudly. */
export async function createDevNode(options: { env?: Record<string, string>; seed?: number; clock?: FakeClock } = {}) {
  const clock = options.clock ?? new FakeClock(T0_MS)
  const logs: LogEntry[] = []
  const node = await KmsNode.create({
    env: { IN_ENCLAVE: 'false', ...options.env },
    clock,
    random: seededRandom(options.seed ?? 7),
    sleep: async () => undefined,
    fetch: async () => {
      throw new Error('unit tests make no network calls')
    },
    writeLog: (level, message, fields) => logs.push({ level, message, fields }),
    version: '0.0.0-test',
  })
  return { node, clock, logs }
}

/** A function that answers 200 `{"route": <name>}` and counts its calls. */
export function probeFunction(policy: Partial<FunctionPolicy> & Pick<FunctionPolicy, 'routes'>): KmsFunction & { calls: () => number } {
  let calls = 0
  const fn = defineFunction(
    { name: policy.routes[0]!.path, gate: 'none', limiter: 'client', bodyLimit: 'request', ...policy },
    async () => {
      calls++
      return jsonResponse({ route: policy.routes[0]!.path })
    },
  )
  return Object.assign(fn, { calls: () => calls })
}

/**
 * Sets the context variables a stage reads, as the earlier stages would: the node (any
 * object with the fields the stage under test reads), the route for the path, and a
 * request id.
 */
export function context(options: { node?: object; functions?: readonly KmsFunction[]; requestId?: string }): MiddlewareHandler<PipelineEnv> {
  const table = buildRouteTable(options.functions ?? [])
  return async (c, next) => {
    // The one cast of these suites: a stage reads only a few fields of KmsNode, and the
    // fakes hold exactly those.
    if (options.node !== undefined) c.set('node', options.node as PipelineEnv['Variables']['node'])
    c.set('route', table.match(new URL(c.req.url).pathname))
    c.set('requestId', options.requestId ?? 'test-request-id')
    await next()
  }
}

/** A hono app typed with the pipeline's variables. */
export function stageApp(): Hono<PipelineEnv> {
  return new Hono<PipelineEnv>()
}

/** The `{"code","message"}` body of an error response. */
export async function errorBody(response: Response): Promise<{ code: string; message: string }> {
  return (await response.json()) as { code: string; message: string }
}
