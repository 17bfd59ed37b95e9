import { readBoundedBody } from '../cluster/peerHttp'
import { MAX_NODE_ANSWER_BYTES } from './kmsClient'
import { KmsNodeExchangeError } from './runtimeErrors'

/** The `fetch` shape the clients take; `globalThis.fetch` satisfies it. */
export type FetchFunction = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>

/**
 * Wraps `fetch` with the runtime's per-request deadline (RUNTIME.md §1: 10 s), over the
 * headers and the whole body: the answer comes back fully buffered, so nothing read later
 * can hang, and never more than {@link MAX_NODE_ANSWER_BYTES} of it (the host answers at a
 * node's URL with whatever it likes); a longer answer is a `transport` failure. A rejection or a timeout becomes a `transport` {@link KmsNodeExchangeError};
 * the deadline holds even for a `fetch` that ignores its abort signal.
 */
export function createTimedFetch(fetch: FetchFunction, timeoutMs: number): FetchFunction {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs: expected a positive integer')
  return async (input, init = {}) => {
    const controller = new AbortController()
    const exchange = (async () => {
      const response = await fetch(input, { ...init, signal: controller.signal })
      let body: Uint8Array
      try {
        body = await readBoundedBody(response, MAX_NODE_ANSWER_BYTES, controller.signal)
      } catch (error) {
        throw new KmsNodeExchangeError('transport', error instanceof Error ? error.message : 'answer unreadable', { cause: error })
      }
      return new Response(response.status === 204 || response.status === 304 ? null : new Uint8Array(body), {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      })
    })()
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort()
        reject(new KmsNodeExchangeError('transport', `request timed out after ${timeoutMs} ms`))
      }, timeoutMs)
    })
    try {
      return await Promise.race([exchange, deadline])
    } catch (error) {
      if (error instanceof KmsNodeExchangeError) throw error
      // Only the transport can reject here (fetch, body read): nothing of ours runs inside.
      throw new KmsNodeExchangeError('transport', 'connection failed', { cause: error })
    } finally {
      clearTimeout(timer)
      // The losing side of the race must not surface as an unhandled rejection.
      exchange.catch(() => undefined)
    }
  }
}
