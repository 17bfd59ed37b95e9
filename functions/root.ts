/** `GET /` (PROTOCOL §2): the service name and version. */
import { jsonResponse, type KmsFunction } from './_http'

export const root: KmsFunction = async (_request, node) =>
  jsonResponse({ service: 'Nova KMS', version: node.version, mode: node.config.mode, docs: '/status, /nodes, /nonce, /kms/*' })
