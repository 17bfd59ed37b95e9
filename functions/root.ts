/** `GET /` (PROTOCOL §2): the service name and version. */
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const root = defineFunction(
  { name: 'root', routes: [{ path: '/', methods: ['GET', 'HEAD'] }], gate: 'none', limiter: 'client', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'version' | 'config'>) =>
    jsonResponse({ service: 'Nova KMS', version: node.version, mode: node.config.mode, docs: '/status, /nodes, /nonce, /kms/*' }),
)
