/**
 * `GET /nonce` (PROTOCOL §2.3): a single-use nonce for PoP and attestation auth. The
 * per-client nonce limiter runs in the bundle's pipeline, before this handler.
 */
import { jsonResponse, type KmsFunction } from './_http'

export const nonce: KmsFunction = async (_request, node) => jsonResponse({ nonce: node.nonces.issue() })
