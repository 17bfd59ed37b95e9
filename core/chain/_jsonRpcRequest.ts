/**
 * One JSON-RPC 2.0 request over the injected `fetch`, bounded in every way an RPC could
 * misbehave (PROTOCOL §3.3, §9.3): a deadline over headers and body alike, a cap on the
 * answer read as it streams in, no redirects, and an answer that must be the JSON-RPC
 * response to this very request. No batching, no retries, no CCIP-read (EIP-3668): a node
 * makes plain `eth_call`s and nothing else, so whoever controls the RPC cannot make it fetch
 * other URLs, and one failed call never drags others down with it.
 */
import { RpcResponseError, RpcTimeoutError, RpcTransportError } from './_rpcErrors'

export interface JsonRpcEndpoint {
  url: string
  /** Looked up per request when absent, so nothing runs at import time. */
  fetch: typeof fetch | undefined
  timeoutMs: number
  maxAnswerBytes: number
}

const HEX_DATA = /^0x[0-9a-fA-F]*$/

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Reads the body chunk by chunk, cancelling it as soon as it passes `limit`. */
async function readCappedBody(response: Response, limit: number): Promise<Uint8Array> {
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const step = await reader.read()
    if (step.done) break
    total += step.value.byteLength
    if (total > limit) {
      reader.cancel().catch(() => undefined)
      throw new RpcTransportError(`the answer exceeds ${limit} bytes`)
    }
    chunks.push(step.value)
  }
  const body = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    body.set(chunk, at)
    at += chunk.byteLength
  }
  return body
}

function parseAnswer(body: Uint8Array, status: number, id: number): unknown {
  const ok = status >= 200 && status < 300
  let answer: unknown
  try {
    answer = JSON.parse(new TextDecoder().decode(body))
  } catch {
    throw new RpcTransportError(ok ? 'the answer is not JSON' : `HTTP ${status}`)
  }
  if (!isObject(answer) || answer.jsonrpc !== '2.0') throw new RpcTransportError(ok ? 'the answer is not JSON-RPC 2.0' : `HTTP ${status}`)
  // An answer to another request (a shared or confused proxy) says nothing about this one.
  if (answer.id !== id) throw new RpcTransportError('the answer id does not match the request')
  const hasResult = 'result' in answer
  const error = answer.error
  if (error !== undefined) {
    if (hasResult || !isObject(error) || !Number.isSafeInteger(error.code) || typeof error.message !== 'string') {
      throw new RpcTransportError('the answer has a malformed error object')
    }
    const data = typeof error.data === 'string' && HEX_DATA.test(error.data) ? error.data : undefined
    throw new RpcResponseError(error.code as number, error.message, data, status)
  }
  // A result on an HTTP error is not trusted: the answer is the status.
  if (!ok) throw new RpcTransportError(`HTTP ${status}`)
  if (!hasResult) throw new RpcTransportError('the answer has neither result nor error')
  return answer.result
}

async function exchange(endpoint: JsonRpcEndpoint, body: string, id: number, signal: AbortSignal): Promise<unknown> {
  let response: Response
  try {
    response = await (endpoint.fetch ?? globalThis.fetch)(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      // A redirect is refused, not followed: the RPC is the configured URL and no other.
      redirect: 'manual',
      signal,
    })
  } catch (error) {
    if (signal.aborted) throw error
    throw new RpcTransportError('HTTP request failed', { cause: error })
  }
  if (response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)) {
    response.body?.cancel().catch(() => undefined)
    throw new RpcTransportError(`the RPC answered with a redirect (HTTP ${response.status}), which is not followed`)
  }
  let answer: Uint8Array
  try {
    answer = await readCappedBody(response, endpoint.maxAnswerBytes)
  } catch (error) {
    if (error instanceof RpcTransportError || signal.aborted) throw error
    throw new RpcTransportError('the answer stream failed', { cause: error })
  }
  return parseAnswer(answer, response.status, id)
}

/**
 * @returns the `result` member of the answer, unchecked beyond being present.
 * @throws RpcTimeoutError past `timeoutMs`; RpcResponseError for a JSON-RPC error object;
 *   RpcTransportError for everything else.
 */
export async function jsonRpcRequest(endpoint: JsonRpcEndpoint, id: number, method: string, params: readonly unknown[]): Promise<unknown> {
  const controller = new AbortController()
  const body = JSON.stringify({ jsonrpc: '2.0', id, method, params })
  const pending = exchange(endpoint, body, id, controller.signal)
  let timer: ReturnType<typeof setTimeout> | undefined
  // Raced rather than left to the signal, so the deadline holds even for a `fetch` (or a
  // body stream) that ignores its abort signal.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort()
      reject(new RpcTimeoutError(endpoint.timeoutMs))
    }, endpoint.timeoutMs)
  })
  try {
    return await Promise.race([pending, deadline])
  } finally {
    clearTimeout(timer)
    // The losing side of the race must not surface as an unhandled rejection.
    pending.catch(() => undefined)
  }
}
