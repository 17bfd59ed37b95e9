/**
 * `/kms/data` (PROTOCOL §2.5, §6): the per-app encrypted key/value store. One standalone
 * function with its own routes (itty-router): list, read (query or path form), put, delete.
 */
import { IttyRouter, type IRequest } from 'itty-router'
import { decryptRecord, encryptRecord } from '../core/crypto'
import { bytesToBase64, parseBase64, utf8Length } from '../core/encoding'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { handleAppRequest, type AppRequest } from './_appRequest'
import type { KmsFunction } from './_http'

const MAX_KEY_BYTES = 1024
const PATH_PREFIX = '/kms/data/'

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/** A key of 1..1024 UTF-8 bytes (§2.5, fix). */
function checkKey(key: string): string {
  if (key === '' || utf8Length(key) > MAX_KEY_BYTES) throw badRequest("Invalid 'key'")
  return key
}

function keyField(payload: Record<string, unknown>): string {
  const key = payload['key']
  if (typeof key !== 'string') throw badRequest("Missing 'key' field")
  return checkKey(key)
}

function keyFromPath(pathname: string): string {
  let key: string
  try {
    key = decodeURIComponent(pathname.slice(PATH_PREFIX.length))
  } catch (error) {
    throw new KmsError('bad_request', "Invalid 'key'", { cause: error })
  }
  return checkKey(key)
}

async function readValue(node: KmsNode, { identity }: AppRequest, key: string): Promise<unknown> {
  const record = node.store.get(identity.appId, key)
  const plaintext = await decryptRecord(await node.recordKey(identity.appId), record.ciphertext).catch((error: unknown) => {
    // A value that no longer decrypts is reported as such; the namespace stays usable.
    throw new KmsError('decryption_failed', 'Decryption failed', { cause: error, details: `app ${identity.appId}` })
  })
  return { app_id: identity.appId, key, value: bytesToBase64(plaintext), updated_at_ms: record.updatedAtMs }
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

type DataArgs = [KmsNode]

const router = IttyRouter<IRequest, DataArgs, Response>()
  .get('/kms/data', (request, node) =>
    handleAppRequest(request, node, { hasBody: false, weight: 1 }, async (appRequest) => {
      const query = new URL(request.url).searchParams.get('key')
      if (query !== null) return readValue(node, appRequest, checkKey(query))
      const keys = node.store.list(appRequest.identity.appId)
      return { app_id: appRequest.identity.appId, keys, count: keys.length }
    }),
  )
  .get(`${PATH_PREFIX}*`, (request, node) =>
    handleAppRequest(request, node, { hasBody: false, weight: 1 }, (appRequest) =>
      readValue(node, appRequest, keyFromPath(new URL(request.url).pathname)),
    ),
  )
  .put('/kms/data', (request, node) =>
    handleAppRequest(request, node, { hasBody: true, weight: 1 }, async ({ identity, payload }) => {
      const { key, value, ttlMs } = parsePut(payload, node.config.maxKvValueSizeBytes)
      const ciphertext = await encryptRecord(await node.recordKey(identity.appId), value, node.random.bytes(12))
      const record = node.store.put(identity.appId, key, ciphertext, ttlMs)
      return { app_id: identity.appId, key, updated_at_ms: record.updatedAtMs }
    }),
  )
  .delete('/kms/data', (request, node) =>
    handleAppRequest(request, node, { hasBody: true, weight: 1 }, async ({ identity, payload }) => {
      const key = keyField(payload)
      node.store.delete(identity.appId, key)
      return { app_id: identity.appId, key, deleted: true }
    }),
  )

export const data: KmsFunction = async (request, node) => {
  const response = await router.fetch(request, node)
  if (response === undefined) throw new KmsError('not_found', 'Not found')
  return response
}
