import type { Context } from 'hono'
import { parseUtf8 } from '../../core/encoding'
import { badRequest } from './runtimeApiError'

/** A request body that parsed to a JSON object. */
export type JsonObject = Readonly<Record<string, unknown>>

/**
 * Reads the body as strict UTF-8 JSON that must be an object. Each way to fail has its own
 * message, so that a caller can tell a bad encoding from bad JSON.
 * @throws RuntimeApiError 400.
 */
export async function readJsonObject(c: Context): Promise<JsonObject> {
  const text = parseUtf8(new Uint8Array(await c.req.arrayBuffer()))
  if (text === undefined) throw badRequest('Request body is not valid UTF-8')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
    throw badRequest('Request body is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('Request body must be a JSON object')
  return parsed as JsonObject
}
