/**
 * One HTTP exchange with a node the operator's tools do not trust (the custodian's
 * `recover`, the cluster console): a deadline over the whole exchange, body included, a
 * byte bound read as it streams, and no redirects. A hostile host answering at a node's URL
 * can then neither stall a tool, nor flood its memory, nor send it elsewhere.
 */
import { parseUtf8 } from '../core/encoding'

/** Why the exchange gave no answer: nothing came back in time, or too much came back. */
export class BoundedFetchError extends Error {
  override name = 'BoundedFetchError'
  constructor(
    readonly reason: 'unreachable' | 'too_large',
    message: string,
  ) {
    super(message)
  }
}

export interface BoundedAnswer {
  status: number
  /** The body as UTF-8, or `undefined` when it is not valid UTF-8. */
  text: string | undefined
  /** The body parsed as JSON, or `undefined` when it is not JSON. */
  json: unknown
}

export interface BoundedFetchInit extends Omit<RequestInit, 'signal' | 'redirect'> {
  maxBytes: number
  timeoutMs: number
}

/** @throws BoundedFetchError when the node cannot be reached in time or answers more than `maxBytes`. */
export async function fetchBounded(url: string, init: BoundedFetchInit): Promise<BoundedAnswer> {
  const { maxBytes, timeoutMs, ...request } = init
  // The signal bounds the body's reading too, not only the wait for the headers.
  const signal = AbortSignal.timeout(timeoutMs)
  try {
    const response = await fetch(url, { ...request, signal, redirect: 'error' })
    const reader = response.body?.getReader()
    const chunks: Uint8Array[] = []
    let total = 0
    while (reader !== undefined) {
      const { done, value } = await reader.read()
      if (done) break
      total += value.length
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined)
        throw new BoundedFetchError('too_large', `${url} answered more than ${maxBytes} bytes`)
      }
      chunks.push(value)
    }
    const bytes = new Uint8Array(total)
    let offset = 0
    for (const chunk of chunks) {
      bytes.set(chunk, offset)
      offset += chunk.length
    }
    const text = parseUtf8(bytes)
    return { status: response.status, text, json: parseJsonOrUndefined(text) }
  } catch (error) {
    if (error instanceof BoundedFetchError) throw error
    const cause = signal.aborted ? `no answer within ${timeoutMs} ms` : describeFailure(error)
    throw new BoundedFetchError('unreachable', `cannot reach ${url}: ${cause}`)
  }
}

/** undici says only "fetch failed"; the reason (ECONNREFUSED, a bad URL, …) is in its cause. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause: unknown = error.cause
  if (cause instanceof Error) {
    const code = 'code' in cause && typeof cause.code === 'string' ? cause.code : cause.message
    return `${error.message} (${code})`
  }
  return error.message
}

function parseJsonOrUndefined(text: string | undefined): unknown {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
