/**
 * Stage: the per-client limiters (PROTOCOL §2 step 1, §12.2). Every route but the exempt
 * ones (/health, /metrics, /sync) takes a token from the global bucket; /nonce and
 * /attestation also from the nonce bucket. Loopback and unknown callers are not limited by
 * client (behind the enclave's L4 ingress every caller is loopback), so nonces also come from
 * one node-wide bucket (`NODE_NONCE_RATE_LIMIT_PER_MINUTE`): issued faster than the store
 * holds them (`MAX_NONCES` per `POP_TIMEOUT_SECONDS`), they would evict live ones.
 */
import type { Context, MiddlewareHandler } from 'hono'
import { identifiesClient, resolveClientKey, type RateLimiter } from '../../core/auth'
import { KmsError } from '../../core/errors'
import type { PipelineEnv } from './_env'

/** Where the socket address lives: `@hono/node-server` passes the IncomingMessage as env. */
export function nodeServerSocketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress
}

/** The key of the node-wide bucket. */
const NODE_BUCKET = 'node'

export function clientLimits(socketAddress: (c: Context) => string | undefined = nodeServerSocketAddress): MiddlewareHandler<PipelineEnv> {
  return async function clientLimitsStage(c, next) {
    const node = c.get('node')
    const limiter = c.get('route')?.fn.policy.limiter ?? 'client'
    if (limiter !== 'exempt') {
      const clientKey = resolveClientKey({
        socketAddress: socketAddress(c),
        forwardedFor: c.req.header('x-forwarded-for') ?? null,
        trustedProxyHops: node.config.trustedProxyHops,
      })
      if (identifiesClient(clientKey)) {
        take(node.limiters.global, 'global', clientKey, node.metrics)
        if (limiter === 'nonce') take(node.limiters.nonce, 'nonce', clientKey, node.metrics)
      }
      // Whoever the caller is (loopback included): one node-wide bucket for nonces.
      if (limiter === 'nonce') take(node.limiters.nodeNonce, 'nonce', NODE_BUCKET, node.metrics)
    }
    await next()
  }
}

function take(limiter: RateLimiter, name: 'global' | 'nonce', clientKey: string, metrics: { recordRateLimited(name: 'global' | 'nonce'): void }): void {
  const decision = limiter.take(clientKey)
  if (decision.allowed) return
  metrics.recordRateLimited(name)
  throw new KmsError('rate_limited', 'Rate limit exceeded', { headers: { 'retry-after': String(decision.retryAfterSeconds) } })
}
