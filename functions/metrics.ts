/** `GET /metrics` (PROTOCOL §2.8): Prometheus 0.0.4 text, exempt from rate limits. */
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'

export const metrics = defineFunction(
  { name: 'metrics', routes: [{ path: '/metrics', methods: ['GET', 'HEAD'] }], gate: 'none', limiter: 'exempt', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'store' | 'nonces' | 'metrics' | 'keys' | 'readiness' | 'epochStatus' | 'audit'>) => {
    const stats = node.store.stats()
    const serving = node.keys.servingEpoch
    const body = node.metrics.render({
      nonceStoreSize: node.nonces.size,
      kvNamespaces: stats.namespaces,
      kvKeys: stats.total_keys,
      kvBytes: stats.total_bytes,
      masterSecretState: node.keys.state,
      serviceAvailable: node.readiness.available,
      audit: node.audit.stats(),
      epochs: { current: node.epochStatus.current, serving, recordsBelowServing: serving === undefined ? 0 : node.store.recordsBelowEpoch(serving) },
    })
    return new Response(body, { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } })
  },
)
