/**
 * `POST /kms/derive` (PROTOCOL §2.4): a deterministic per-app key, HKDF from the master
 * secret (§5.2), which only the key ring holds.
 */
import { bytesToBase64, utf8Length } from '../core/encoding'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { defineAppFunction } from './_appRequest'

const MAX_LENGTH = 1024
/**
 * HKDF `info` is `path` or `path:context` (§5.2); WebCrypto refuses an info over 1024 bytes
 * in some runtimes, so the boundary refuses it first with a 400 (L1), the same everywhere.
 */
const MAX_INFO_BYTES = 1024

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/** §2.4 checks 1–4, in order. Only an absent field takes its default; `null` is not absent. */
export function parseDeriveRequest(payload: Record<string, unknown>): { path: string; context: string; length: number } {
  const { path, context = '', length = 32 } = payload
  if (typeof path !== 'string' || path.trim() === '') throw badRequest("Missing 'path' field")
  if (typeof context !== 'string') throw badRequest("'context' must be a string")
  let parsedLength: number
  if (typeof length === 'number' && Number.isInteger(length)) parsedLength = length
  else if (typeof length === 'string' && /^\d+$/.test(length)) parsedLength = Number(length)
  else throw badRequest("'length' must be an integer")
  if (parsedLength < 1 || parsedLength > MAX_LENGTH) throw badRequest(`'length' must be in range 1..${MAX_LENGTH}`)
  if (utf8Length(context === '' ? path : `${path}:${context}`) > MAX_INFO_BYTES) {
    throw badRequest(`'path' and 'context' must be at most ${MAX_INFO_BYTES} bytes together`)
  }
  return { path, context, length: parsedLength }
}

export const derive = defineAppFunction(
  { name: 'derive', routes: [{ path: '/kms/derive', methods: ['POST'] }] },
  async ({ identity, payload }, node: Pick<KmsNode, 'keys'>) => {
    const { path, context, length } = parseDeriveRequest(payload)
    const key = await node.keys.deriveAppKey({ appId: identity.appId, path, context, length })
    return { app_id: identity.appId, path, key: bytesToBase64(key), length }
  },
)
