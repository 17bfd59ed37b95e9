/**
 * One HTTP exchange with the enclave helper (PROTOCOL §10.1): JSON in, JSON or bytes out,
 * a deadline over the whole exchange, and every transport failure mapped to 503.
 */
import type { JsonValue } from '../encoding'
import { KmsError } from '../errors'

/** The subset of `fetch` the client needs; `globalThis.fetch` satisfies it. */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>

export interface OdynCall {
  method: 'GET' | 'POST'
  path: `/v1/${string}`
  body?: JsonValue
}

/** A helper that cannot be reached, fails or answers nonsense: 503 (§5.6, §12.4). */
export function helperFailure(call: OdynCall, details: string, cause?: unknown): KmsError {
  return new KmsError('service_unavailable', 'Enclave helper unavailable', {
    details: `${call.method} ${call.path}: ${details}`,
    cause,
  })
}

/**
 * Settles with `work`, or rejects with a helper failure once `signal` aborts, even if
 * `work` ignores the signal. Only transport promises pass through here (fetch, body
 * reads), so mapping their rejections to 503 hides no bug.
 */
function withDeadline<T>(work: Promise<T>, signal: AbortSignal, call: OdynCall, stage: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(helperFailure(call, `timed out during ${stage}`, signal.reason))
    if (signal.aborted) return onAbort()
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (cause: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(helperFailure(call, `${stage} failed`, cause))
      },
    )
  })
}

export interface OdynHttpOptions {
  baseUrl: string
  fetch: FetchFunction
  timeoutMs: number
}

export class OdynHttp {
  readonly #baseUrl: string
  readonly #fetch: FetchFunction
  readonly #timeoutMs: number

  constructor({ baseUrl, fetch, timeoutMs }: OdynHttpOptions) {
    if (typeof baseUrl !== 'string') throw new TypeError(`baseUrl: expected string, got ${typeof baseUrl}`)
    if (typeof fetch !== 'function') throw new TypeError(`fetch: expected function, got ${typeof fetch}`)
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs: expected a positive integer')
    this.#baseUrl = baseUrl.replace(/\/+$/, '')
    this.#fetch = fetch
    this.#timeoutMs = timeoutMs
  }

  /**
   * Sends `call` and parses a JSON answer.
   * @param rejected maps a non-2xx status to a specific error; otherwise it is a 503.
   */
  async json(call: OdynCall, rejected?: (status: number) => KmsError | undefined): Promise<unknown> {
    return this.#send(call, (response) => response.json() as Promise<unknown>, rejected)
  }

  /** Sends `call` and returns the raw answer body. */
  async bytes(call: OdynCall): Promise<Uint8Array> {
    return new Uint8Array(await this.#send(call, (response) => response.arrayBuffer()))
  }

  async #send<T>(
    call: OdynCall,
    read: (response: Response) => Promise<T>,
    rejected?: (status: number) => KmsError | undefined,
  ): Promise<T> {
    // One deadline for headers and body alike (§10.1: every call has a 10 s timeout).
    const signal = AbortSignal.timeout(this.#timeoutMs)
    const init: RequestInit = { method: call.method, signal }
    if (call.body !== undefined) {
      init.body = JSON.stringify(call.body)
      init.headers = { 'content-type': 'application/json' }
    }
    const response = await withDeadline(this.#fetch(this.#baseUrl + call.path, init), signal, call, 'request')
    if (!response.ok) {
      // Release the connection; the answer is a failure whatever the body says.
      response.body?.cancel().catch(() => undefined)
      throw rejected?.(response.status) ?? helperFailure(call, `HTTP ${response.status}`)
    }
    return withDeadline(read(response), signal, call, 'body read')
  }
}
