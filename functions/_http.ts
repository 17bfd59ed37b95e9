/**
 * HTTP plumbing shared by every function: JSON responses, bounded body reading, and the E2E
 * envelope (PROTOCOL §0, §5.6, §12.1). Handlers throw `KmsError`; the pipeline maps errors.
 */
import type { RequestAdmission } from '../core/auth'
import { concatBytes } from '../core/encoding'
import { isEnvelope, type openEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'

export function jsonResponse(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return new Response(JSON.stringify(body), {
    status: init.status ?? 200,
    headers: { 'content-type': 'application/json', ...init.headers },
  })
}

function tooLarge(): KmsError {
  return new KmsError('payload_too_large', 'Request body too large')
}

/** The node-wide budget of buffered body bytes (§12.3); each chunk is charged as it arrives. */
export type BodyBudget = Pick<RequestAdmission, 'holdBody'>

/**
 * A request body's chunks, as `readBodyBytes` pulls them: `next` gives `undefined` at the end,
 * and `stop` ends reading early (the rest of the body is left to the server to drain or drop).
 */
export interface BodyChunks {
  next(): Promise<Uint8Array | undefined>
  stop(): Promise<void>
}

/**
 * Where a request's body comes from when the runtime has a faster source than the Web
 * stream: under Node, the socket's own chunks (bundle/node.ts). `undefined` means the
 * request's `body` stream.
 */
export type BodySource = (request: Request) => BodyChunks | undefined

let bodySource: BodySource = () => undefined

/** Installs (or, with `undefined`, removes) the runtime's body source. */
export function useBodySource(source: BodySource | undefined): void {
  bodySource = source ?? (() => undefined)
}

function webBodyChunks(body: ReadableStream<Uint8Array>): BodyChunks {
  const reader = body.getReader()
  return {
    async next() {
      const { done, value } = await reader.read()
      return done ? undefined : value
    },
    async stop() {
      await reader.cancel().catch(() => undefined)
    },
  }
}

/**
 * Reads the body, refusing more than `limit` bytes. A declared Content-Length above the
 * limit is refused before reading; a streamed body is counted and reading stops at the limit.
 * With a `budget`, every chunk is charged to the node-wide budget first.
 * @throws KmsError 413 `payload_too_large`; 503 when the budget is spent.
 */
export async function readBodyBytes(request: Request, limit: number, budget?: BodyBudget): Promise<Uint8Array> {
  const declared = request.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) throw tooLarge()
  // The runtime's source first: asking for `request.body` may build the Web stream it avoids.
  let source = bodySource(request)
  if (source === undefined) {
    if (request.body === null) return new Uint8Array(0)
    source = webBodyChunks(request.body)
  }
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const value = await source.next()
    if (value === undefined) break
    total += value.byteLength
    if (total > limit) {
      await source.stop()
      throw tooLarge()
    }
    try {
      budget?.holdBody(request, value.byteLength)
    } catch (error) {
      await source.stop()
      throw error
    }
    chunks.push(value)
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks)
}

/**
 * Reads a JSON body whatever its Content-Type (PROTOCOL §0).
 * @throws KmsError 413, or 400 `Invalid JSON body`
 */
export async function readJsonBody(request: Request, limit: number, budget?: BodyBudget): Promise<unknown> {
  const bytes = await readBodyBytes(request, limit, budget)
  return parseJsonText(new TextDecoder('utf-8', { fatal: false }).decode(bytes), 'Invalid JSON body')
}

/** `JSON.parse` that maps a syntax error to 400 with `message`. */
export function parseJsonText(text: string, message: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new KmsError('bad_request', message, { cause: error })
  }
}

/**
 * The body must be an envelope (§5.6).
 * @throws KmsError 400 (plaintext fallback is disabled)
 */
export function requireEnvelope(body: unknown): Parameters<typeof openEnvelope>[0]['envelope'] {
  if (isEnvelope(body)) return body
  throw new KmsError('bad_request', 'Request must be E2E encrypted. Plaintext fallback is disabled.')
}
