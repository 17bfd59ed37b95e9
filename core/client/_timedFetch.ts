import { KmsNodeExchangeError } from './runtimeErrors'

/** The `fetch` shape the clients take; `globalThis.fetch` satisfies it. */
export type FetchFunction = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>

/**
 * Wraps `fetch` with the runtime's per-request deadline (RUNTIME.md §1: 10 s), over the
 * headers and the whole body: the answer comes back fully buffered, so nothing read later
 * can hang. A rejection or a timeout becomes a `transport` {@link KmsNodeExchangeError};
 * the deadline holds even for a `fetch` that ignores its abort signal.
 */
export function createTimedFetch(fetch: FetchFunction, timeoutMs: number): FetchFunction {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs: expected a positive integer')
  return async (input, init = {}) => {
    const controller = new AbortController()
    const exchange = (async () => {
      const response = await fetch(input, { ...init, signal: controller.signal })
      const body = await response.arrayBuffer()
      return new Response(response.status === 204 || response.status === 304 ? null : body, {
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
