/**
 * A hostile relay between an SDK and a node (issue 12, H1), as the host that terminates TLS
 * would be: itty-router on loopback, forwarding every request to the node and recording
 * each exchange, with a hook that can replay, swap, reflect or forge answers and bodies.
 */
import { serve, type ServerType } from '@hono/node-server'
import { IttyRouter } from 'itty-router'

/** One forwarded request and the node's answer, as the relay saw them. */
export interface Exchange {
  method: string
  path: string
  requestHeaders: Headers
  requestBody: Uint8Array
  status: number
  responseHeaders: Headers
  responseBody: Uint8Array
}

/** Decides the answer: return `undefined` to pass the node's answer through. */
export type Tamper = (request: { method: string; path: string; headers: Headers; body: Uint8Array }, forward: () => Promise<Exchange>) => Promise<Response | undefined>

export interface Relay {
  url: string
  /** Every exchange forwarded so far, oldest first. */
  readonly exchanges: Exchange[]
  tamper: Tamper | undefined
  close(): Promise<void>
}

/** Headers that describe one hop's framing, never the answer itself. */
const HOP_HEADERS = ['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'content-encoding']

export function answerHeaders(headers: Headers): Headers {
  const copy = new Headers(headers)
  for (const name of HOP_HEADERS) copy.delete(name)
  return copy
}

/** The recorded answer of `exchange`, as the node sent it, for replay. */
export function replayOf(exchange: Exchange): Response {
  return new Response(exchange.responseBody.slice(), { status: exchange.status, headers: answerHeaders(exchange.responseHeaders) })
}

export async function startRelay(targetUrl: string): Promise<Relay> {
  const relay: Relay = { url: '', exchanges: [], tamper: undefined, close: async () => undefined }
  const router = IttyRouter().all('*', async (request: Request) => {
    const url = new URL(request.url)
    const path = url.pathname + url.search
    const body = new Uint8Array(await request.arrayBuffer())
    const headers = new Headers(request.headers)
    headers.delete('host')
    headers.delete('content-length')
    const forward = async (): Promise<Exchange> => {
      const answer = await fetch(`${targetUrl}${path}`, { method: request.method, headers, ...(body.length > 0 ? { body } : {}) })
      const exchange: Exchange = {
        method: request.method,
        path,
        requestHeaders: headers,
        requestBody: body,
        status: answer.status,
        responseHeaders: new Headers(answer.headers),
        responseBody: new Uint8Array(await answer.arrayBuffer()),
      }
      relay.exchanges.push(exchange)
      return exchange
    }
    const tampered = relay.tamper === undefined ? undefined : await relay.tamper({ method: request.method, path, headers, body }, forward)
    return tampered ?? replayOf(await forward())
  })
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: (request) => router.fetch(request), hostname: '127.0.0.1', port: 0 }, () => resolve(started))
  })
  const address = server.address()
  relay.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  relay.close = () => new Promise((resolve) => server.close(() => resolve()))
  return relay
}
