/**
 * How a node talks to a peer over HTTP (PROTOCOL §4.1, §7.2, §12.3): the host runs the
 * network and can answer at any peer URL, so every reply is read through a byte cap and a
 * deadline, and no redirect is ever followed (a 3xx is a failure). workerd rejects
 * `redirect: 'error'`, so requests use `redirect: 'manual'` and the status is checked here.
 */
import { concatBytes } from '../encoding'
import { KmsError } from '../errors'

/** The byte caps of §12.3 for peer replies that are not `/sync` answers. */
export const PEER_REPLY_LIMITS = {
  /** `GET /nonce`: `{"nonce":"<24 base64>"}` is 35 bytes. */
  nonce: 1024,
  /** `GET /status` probe (§7.2): about 1 KB in practice. */
  status: 16 * 1024,
  /** A non-2xx `/sync` answer: `{"code","message"}`. */
  syncError: 16 * 1024,
  /** `GET /attestation` (§4.5): base64 of a document of at most 16384 bytes, in `{"attestation"}`. */
  attestation: 24 * 1024,
} as const

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true
}

function failure(message: string, cause?: unknown): KmsError {
  return new KmsError('service_unavailable', message, { cause })
}

/**
 * Reads at most `limit` bytes of `response`'s body. A declared Content-Length above the limit
 * is refused before reading; a streamed body is counted and the stream is cancelled as soon
 * as it passes the limit, so no more than one chunk past the limit is ever held. An aborted
 * `signal` (the request's deadline) cancels the stream too.
 * @throws KmsError 503 `service_unavailable` past the limit, on a stream error or abort.
 */
export async function readBoundedBody(response: Response, limit: number, signal?: AbortSignal): Promise<Uint8Array> {
  const declared = response.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared.trim()) > limit) {
    await response.body?.cancel().catch(() => undefined)
    throw failure(`peer answer exceeds ${limit} bytes`)
  }
  if (response.body === null) return new Uint8Array(0)
  const reader = response.body.getReader()
  const cancel = (): void => void reader.cancel().catch(() => undefined)
  signal?.addEventListener('abort', cancel, { once: true })
  const chunks: Uint8Array[] = []
  let total = 0
  try {
    for (;;) {
      if (isAborted(signal)) throw failure('peer answer timed out')
      let step: ReadableStreamReadResult<Uint8Array>
      try {
        step = await reader.read()
      } catch (error) {
        throw failure(isAborted(signal) ? 'peer answer timed out' : 'peer answer stream failed', error)
      }
      // A cancelled stream ends "done": after an abort that is a timeout, never a whole body.
      if (isAborted(signal)) throw failure('peer answer timed out')
      if (step.done) break
      total += step.value.byteLength
      if (total > limit) {
        cancel()
        throw failure(`peer answer exceeds ${limit} bytes`)
      }
      chunks.push(step.value)
    }
  } finally {
    signal?.removeEventListener('abort', cancel)
  }
  return chunks.length === 1 ? chunks[0]! : concatBytes(...chunks)
}

/** True for a redirect answer (every 3xx), or the opaque one a `manual` fetch may give. */
export function isRedirect(response: Response): boolean {
  return response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400)
}

export interface PeerResponse {
  response: Response
  /** The request's deadline, which also bounds reading the body. */
  signal: AbortSignal
}

/**
 * One request to a peer, bounded by `timeoutMs` from the start to the last body byte, never
 * following a redirect.
 * @throws KmsError 503: `peer unreachable`, or `peer answered a redirect (<status>)`.
 */
export async function fetchPeer(fetch: typeof globalThis.fetch, url: string, init: RequestInit, timeoutMs: number): Promise<PeerResponse> {
  const signal = AbortSignal.timeout(timeoutMs)
  let response: Response
  try {
    response = await fetch(url, { ...init, redirect: 'manual', signal })
  } catch (error) {
    throw failure('peer unreachable', error)
  }
  if (isRedirect(response)) {
    await response.body?.cancel().catch(() => undefined)
    throw failure(`peer answered a redirect (${response.status})`)
  }
  return { response, signal }
}
