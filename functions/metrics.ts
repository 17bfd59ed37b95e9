/** `GET /metrics` (PROTOCOL §2.8): Prometheus 0.0.4 text, exempt from rate limits. */
import type { KmsFunction } from './_http'

export const metrics: KmsFunction = async (_request, node) => {
  const stats = node.store.stats()
  const body = node.metrics.render({
    nonceStoreSize: node.nonces.size,
    kvNamespaces: stats.namespaces,
    kvKeys: stats.total_keys,
    kvBytes: stats.total_bytes,
    masterSecretState: node.secret.state,
    serviceAvailable: node.readiness.available,
  })
  return new Response(body, { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } })
}
