/** `GET /health` (PROTOCOL §2): liveness only; it answers even while the node is unavailable. */
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const health = defineFunction(
  { name: 'health', routes: [{ path: '/health', methods: ['GET', 'HEAD'] }], gate: 'none', limiter: 'exempt', bodyLimit: 'request' },
  async () => jsonResponse({ status: 'healthy' }),
)
