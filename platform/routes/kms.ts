/**
 * `/v1/kms/*` (RUNTIME.md §2), through the runtime-like KMS client: its errors are mapped
 * once, in `handleRuntimeError` (503 + `Retry-After: 10` for transient failures, else 400).
 */
import { Hono } from 'hono'
import { bytesToBase64 } from '../../core/encoding'
import type { AppInstance, KmsIntegration } from '../app/appInstance'
import { readBase64, readInteger, readString } from '../http/fields'
import { readJsonObject } from '../http/readJsonObject'
import { badRequest } from '../http/runtimeApiError'

/** PROTOCOL §2.4's range, checked here so the caller gets the message without a round trip. */
const MAX_DERIVE_LENGTH = 1024

/** RUNTIME.md §2: a runtime without KMS integration answers 400. */
export function requireKms(instance: AppInstance): KmsIntegration {
  if (instance.kms === undefined) throw badRequest('KMS integration not configured')
  return instance.kms
}

export function kmsRoutes(instance: AppInstance): Hono {
  return new Hono()
    .post('/v1/kms/derive', async (c) => {
      const kms = requireKms(instance).client
      const body = await readJsonObject(c)
      const path = readString(body, 'path', { nonEmpty: true })
      const context = readString(body, 'context', { default: '' })
      const length = readInteger(body, 'length', { min: 1, max: MAX_DERIVE_LENGTH, default: 32 })
      return c.json({ key: bytesToBase64(await kms.derive({ path, context, length })) })
    })
    .post('/v1/kms/kv/get', async (c) => {
      const kms = requireKms(instance).client
      const key = readString(await readJsonObject(c), 'key', { nonEmpty: true })
      const result = await kms.kvGet(key)
      return result.found ? c.json({ found: true, value: bytesToBase64(result.value) }) : c.json({ found: false, value: null }, 404)
    })
    .post('/v1/kms/kv/put', async (c) => {
      const kms = requireKms(instance).client
      const body = await readJsonObject(c)
      const key = readString(body, 'key', { nonEmpty: true })
      const value = readBase64(body, 'value')
      const ttlMs = readInteger(body, 'ttl_ms', { min: 0, max: Number.MAX_SAFE_INTEGER, default: 0 })
      await kms.kvPut(key, value, ttlMs)
      return c.json({ success: true })
    })
    .post('/v1/kms/kv/delete', async (c) => {
      const kms = requireKms(instance).client
      const key = readString(await readJsonObject(c), 'key', { nonEmpty: true })
      // A key that was not there is deleted all the same: the answer is the state.
      await kms.kvDelete(key)
      return c.json({ success: true })
    })
}
