/**
 * `GET /nonce` (PROTOCOL §2.3): a single-use nonce for PoP and attestation auth. The
 * per-client nonce limiter runs in the pipeline, before this handler. No `HEAD`: it would
 * consume a nonce.
 */
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const nonce = defineFunction(
  { name: 'nonce', routes: [{ path: '/nonce', methods: ['GET'] }], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'nonces'>) => jsonResponse({ nonce: node.nonces.issue() }),
)
