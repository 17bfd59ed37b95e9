/**
 * `/kms/data` (PROTOCOL §2.5, §6): the per-app encrypted key/value store. One standalone
 * function with its own routes (itty-router): list, read (query or path form), put, delete.
 * Encryption and decryption are the store's `appValues`; this file parses and answers.
 */
import { IttyRouter, type IRequest } from 'itty-router'
import { bytesToBase64, parseBase64, utf8Length } from '../core/encoding'
import { isWellFormedKey } from '../core/store'
import { KmsError } from '../core/errors'
import { notReady } from '../core/keys'
import type { KmsNode } from '../core/node'
import { defineAppFunction, type AppRequest } from './_appRequest'

const MAX_KEY_BYTES = 1024
const PATH_PREFIX = '/kms/data/'

type DataView = Pick<KmsNode, 'store' | 'appValues' | 'config' | 'watermarks' | 'keys'>

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/**
 * A key of 1..1024 UTF-8 bytes (§2.5, fix), well-formed UTF-16: a lone surrogate would become
 * U+FFFD on the wire and two keys would merge on a replica (L4). Checked here, first, so that
 * §2.5's order holds; the store checks again for records from peers.
 */
function checkKey(key: string): string {
  if (key === '' || !isWellFormedKey(key) || utf8Length(key) > MAX_KEY_BYTES) throw badRequest("Invalid 'key'")
  return key
}

function keyField(payload: Record<string, unknown>): string {
  const key = payload['key']
  if (typeof key !== 'string') throw badRequest("Missing 'key' field")
  return checkKey(key)
}

/**
 * The key of `GET /kms/data/<key>`, form-urlencoded as the runtime's client sends it
 * (RUNTIME.md §1): `+` is a space and `%XX` an escaped byte, so a literal `+` is `%2B`.
 */
export function keyFromPath(pathname: string): string {
  let key: string
  try {
    key = decodeURIComponent(pathname.slice(PATH_PREFIX.length).replaceAll('+', ' '))
  } catch (error) {
    throw new KmsError('bad_request', "Invalid 'key'", { cause: error })
  }
  return checkKey(key)
}

async function readValue(node: DataView, { identity, audit }: AppRequest, key: string): Promise<unknown> {
  const { value, updatedAtMs } = await node.appValues.get(identity.appId, key)
  audit({ op: 'data_get', key })
  return { app_id: identity.appId, key, value: bytesToBase64(value), updated_at_ms: updatedAtMs }
}

/** §2.5 put checks, in order. */
function parsePut(payload: Record<string, unknown>, maxValueBytes: number): { key: string; value: Uint8Array; ttlMs: number } {
  const key = keyField(payload)
  const encoded = payload['value']
  if (typeof encoded !== 'string') throw badRequest("Missing 'value' field")
  const value = parseBase64(encoded)
  if (value === undefined) throw badRequest('Invalid base64 value')
  if (value.length > maxValueBytes) throw badRequest(`Value size exceeds limit ${maxValueBytes}`)
  const ttl = payload['ttl_ms'] ?? 0
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) throw badRequest("'ttl_ms' must be a non-negative integer")
  return { key, value, ttlMs: ttl }
}

/** The inner routes, after authentication: each returns the inner answer to seal. */
const router = IttyRouter<IRequest, [AppRequest, DataView], unknown>()
  .get('/kms/data', (request, appRequest, node) => {
    const query = new URL(request.url).searchParams.get('key')
    if (query !== null) return readValue(node, appRequest, checkKey(query))
    const keys = node.store.list(appRequest.identity.appId)
    appRequest.audit({ op: 'data_list', count: keys.length })
    return { app_id: appRequest.identity.appId, keys, count: keys.length }
  })
  .get(`${PATH_PREFIX}*`, (request, appRequest, node) => readValue(node, appRequest, keyFromPath(new URL(request.url).pathname)))
  .put('/kms/data', async (_request, { identity, payload, audit }, node) => {
    const { key, value, ttlMs } = parsePut(payload, node.config.maxKvValueSizeBytes)
    // New values go under the serving epoch's data key, and the record says so (§6.1, §7.7).
    const keyEpoch = node.keys.servingEpoch
    if (keyEpoch === undefined) throw notReady()
    const { updatedAtMs, record } = await node.appValues.put(identity.appId, key, value, ttlMs, keyEpoch)
    // Journaled now, not only by the next tick's scan, so a clock moved back cannot hide it (§6.8).
    node.watermarks.wroteLocally(identity.appId, record)
    audit({ op: 'data_put', key })
    return { app_id: identity.appId, key, updated_at_ms: updatedAtMs }
  })
  .delete('/kms/data', (_request, { identity, payload, audit }, node) => {
    const key = keyField(payload)
    node.watermarks.wroteLocally(identity.appId, node.store.delete(identity.appId, key))
    audit({ op: 'data_delete', key })
    return { app_id: identity.appId, key, deleted: true }
  })

export const data = defineAppFunction(
  {
    name: 'data',
    routes: [
      { path: '/kms/data', methods: ['GET', 'PUT', 'DELETE'] },
      { path: '/kms/data/*', methods: ['GET'] },
    ],
  },
  async (appRequest, node: DataView) => {
    const answer: unknown = await router.fetch(appRequest.request, appRequest, node)
    if (answer === undefined) throw new KmsError('not_found', 'Not found')
    return answer
  },
)
