/** `GET /health` (PROTOCOL §2): liveness only; it answers even while the node is unavailable. */
import { jsonResponse, type KmsFunction } from './_http'

export const health: KmsFunction = async () => jsonResponse({ status: 'healthy' })
