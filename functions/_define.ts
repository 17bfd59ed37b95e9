/**
 * `defineFunction`: the one way to make an endpoint. A function is its route policy plus a
 * handler, and its `fetch` runs the whole PROTOCOL §2 pipeline for its own routes, so it
 * works alone as a worker (`export default derive`) as well as mounted with others
 * (`serve([nonce, derive])`). Nothing about a route is written anywhere else: the bundle's
 * route table is built from these policies.
 */
import type { ExecutionContext } from 'hono'
import type { NodeConfig } from '../core/config'
import type { KmsNode } from '../core/node'
import { createPipeline } from './_serve'

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE'

export interface RouteSpec {
  /** An exact path, or a prefix ending in `/*` (keys in the path of `/kms/data/<key>`). */
  path: string
  /** `HEAD` is listed only on public reads that consume nothing (never /nonce, /attestation or the authenticated /kms/* routes). */
  methods: readonly HttpMethod[]
}

export interface FunctionPolicy {
  /** The function's name in logs. */
  name: string
  routes: readonly RouteSpec[]
  /** `ready` routes answer 503 with the reason while the node is unavailable (§2 step 4). */
  gate: 'none' | 'ready'
  /**
   * The per-client limiters of §12.2: `client` is the global one, `nonce` adds the nonce
   * bucket, `exempt` skips both (/health, /metrics, /sync).
   */
  limiter: 'client' | 'nonce' | 'exempt'
  /** Which body limit of §12.1 applies (`recovery`: RECOVERY_BODY_LIMIT_BYTES, §7.6). */
  bodyLimit: 'request' | 'sync' | 'recovery'
  /** Tokens one authenticated request costs in the per-app limiter (§12.2); app routes only. */
  weight?: number | ((config: NodeConfig) => number)
}

/** A narrow view of the node: only the fields a handler declares (as viem's actions take a client). */
export type NodeView<K extends keyof KmsNode> = Pick<KmsNode, K>

/** A handler gets the request and its view of the node. */
export type FunctionHandler<K extends keyof KmsNode> = (request: Request, node: NodeView<K>) => Promise<Response>

/** The module-worker shape of a function alone, or of several served together. */
export interface FetchHandler {
  fetch(request: Request, env?: unknown, context?: ExecutionContext): Response | Promise<Response>
}

export interface KmsFunction extends FetchHandler {
  readonly policy: FunctionPolicy
  /** The route logic alone, after the pipeline has admitted the request. */
  readonly handle: (request: Request, node: KmsNode) => Promise<Response>
}

/**
 * Defines a function. The handler's parameter type names the fields of `KmsNode` it reads.
 * @example
 * export const nonce = defineFunction(
 *   { name: 'nonce', routes: [{ path: '/nonce', methods: ['GET'] }], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
 *   async (_request, node: Pick<KmsNode, 'nonces'>) => jsonResponse({ nonce: node.nonces.issue() }),
 * )
 */
export function defineFunction<K extends keyof KmsNode>(policy: FunctionPolicy, handle: FunctionHandler<K>): KmsFunction {
  let standalone: FetchHandler | undefined
  const fn: KmsFunction = {
    policy,
    handle,
    fetch(request, env, context) {
      // Built on first use: the function alone, behind the same pipeline as the bundle.
      standalone ??= createPipeline([fn])
      return standalone.fetch(request, env, context)
    },
  }
  return fn
}
