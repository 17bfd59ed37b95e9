/**
 * The hono app: mounts the standalone functions behind the PROTOCOL §2 request pipeline
 * (global rate limit, body limit, routing with 404/405/OPTIONS, readiness gate, route) with
 * CORS, request ids, metrics, logging and the one error mapper.
 */
import { Hono, type Context } from 'hono'
import { identifiesClient, resolveClientKey } from '../core/auth'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import type { KmsFunction } from '../functions/_http'
import { ROUTES, matchRoute, type RouteEntry } from './routes'

export type NodeProvider = (env: unknown) => Promise<KmsNode>

const CORS_EXPOSE = 'x-kms-response-signature, x-kms-peer-signature, retry-after'
const CORS_ALLOW_HEADERS = [
  'content-type', 'x-app-signature', 'x-app-nonce', 'x-app-timestamp', 'x-app-wallet', 'x-nitro-attestation',
  'x-kms-signature', 'x-kms-nonce', 'x-kms-timestamp', 'x-kms-wallet', 'x-sync-signature',
].join(', ')

function withCors(response: Response, requestId: string): Response {
  const headers = new Headers(response.headers)
  headers.set('access-control-allow-origin', '*')
  headers.set('access-control-expose-headers', CORS_EXPOSE)
  headers.set('x-request-id', requestId)
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
}

function errorResponse(error: KmsError): Response {
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: { 'content-type': 'application/json', ...error.headers },
  })
}

/** Where the socket address lives: `@hono/node-server` passes the IncomingMessage. */
function socketAddress(context: Context): string | undefined {
  const env = context.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress
}

function rateLimited(node: KmsNode, limiter: 'global' | 'nonce', retryAfterSeconds: number): KmsError {
  node.metrics.recordRateLimited(limiter)
  return new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': String(retryAfterSeconds) } })
}

/** Steps 1–2 of the pipeline: per-client limiters and the declared body size. */
function admit(request: Request, route: RouteEntry | undefined, node: KmsNode, clientKey: string): void {
  const path = route?.template
  const exempt = path === '/health' || path === '/metrics' || path === '/sync'
  if (!exempt && identifiesClient(clientKey)) {
    const global = node.limiters.global.take(clientKey)
    if (!global.allowed) throw rateLimited(node, 'global', global.retryAfterSeconds)
    if (route?.nonceLimited === true) {
      const nonce = node.limiters.nonce.take(clientKey)
      if (!nonce.allowed) throw rateLimited(node, 'nonce', nonce.retryAfterSeconds)
    }
  }
  const limit = path === '/sync' ? node.config.maxSyncPayloadBytes : node.config.maxRequestBodyBytes
  const declared = request.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    throw new KmsError('payload_too_large', 'Request body too large')
  }
}

async function dispatch(request: Request, node: KmsNode, clientKey: string): Promise<{ response: Response; template: string }> {
  const url = new URL(request.url)
  const route = matchRoute(url.pathname)
  const template = route?.template ?? 'unmatched'
  admit(request, route, node, clientKey)
  // OPTIONS is answered at step 3, after the limits: never 404, 405 or 503 (§2, CORS).
  if (request.method === 'OPTIONS') {
    return {
      template,
      response: new Response(null, {
        status: 204,
        headers: {
          'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
          'access-control-allow-headers': CORS_ALLOW_HEADERS,
          'access-control-max-age': '600',
        },
      }),
    }
  }
  if (route === undefined) throw new KmsError('not_found', 'Not found')
  const handler: KmsFunction | undefined = route.methods[request.method as keyof RouteEntry['methods']]
  if (handler === undefined) {
    throw new KmsError('method_not_allowed', 'Method not allowed', { headers: { allow: Object.keys(route.methods).join(', ') } })
  }
  if (route.gate === 'ready' && !node.readiness.available) {
    throw new KmsError('service_unavailable', node.readiness.reason || 'initializing')
  }
  return { template, response: await handler(request, node) }
}

/**
 * Builds the app. `getNode` creates the node lazily (DESIGN §3); if configuration is
 * invalid it rejects with a KmsError naming the variable, answered as 500.
 */
export function createApp(getNode: NodeProvider): Hono {
  const app = new Hono()
  app.all('*', async (context) => {
    const request = context.req.raw
    const requestId = request.headers.get('x-request-id')?.slice(0, 128) || globalThis.crypto.randomUUID()
    const started = performance.now()
    let node: KmsNode | undefined
    let template = 'unmatched'
    let response: Response
    try {
      node = await getNode(context.env)
      const clientKey = resolveClientKey({
        socketAddress: socketAddress(context),
        forwardedFor: request.headers.get('x-forwarded-for'),
        trustedProxyHops: node.config.trustedProxyHops,
      })
      const result = await dispatch(request, node, clientKey)
      template = result.template
      response = result.response
    } catch (error) {
      template = matchRoute(new URL(request.url).pathname)?.template ?? 'unmatched'
      if (error instanceof KmsError && error.status !== 500) {
        response = errorResponse(error)
      } else {
        const log = node?.log.bind(node) ?? ((_level: string, message: string, fields?: Record<string, unknown>) => console.error(message, fields))
        log('error', 'unhandled error', { requestId, error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
        // Configuration errors name their variable (§11); anything else is a bug.
        response = errorResponse(error instanceof KmsError ? error : new KmsError('internal_error', 'Internal server error'))
      }
    }
    const seconds = (performance.now() - started) / 1000
    if (node !== undefined) {
      node.metrics.recordRequest(template, request.method, response.status, seconds)
      node.log('debug', 'request', { requestId, method: request.method, route: template, status: response.status, ms: Math.round(seconds * 1000) })
    }
    return withCors(response, requestId)
  })
  return app
}

export { ROUTES }
