/**
 * Request bodies under Node read straight from the `IncomingMessage` (issue 14). With
 * @hono/node-server, asking a request for its `body` builds a full undici `Request` around a
 * Web stream made from the socket, and that cost about 0.3 ms of a derive's CPU. Reading the
 * chunks here gives `readBodyBytes` (functions/_http.ts) the same bytes, and it still applies
 * every cap: the declared length, the running total and the node-wide budget, chunk by
 * chunk, and it reads nothing before authentication has passed, since it is still the handler
 * that asks.
 *
 * Stopping early leaves the rest unread without destroying the message, so that the 413 or
 * 503 can still be written; @hono/node-server drains or drops the rest once the answer is
 * out, as it does for any body a handler did not read.
 */
import type { IncomingMessage } from 'node:http'
import type { BodyChunks, BodySource } from '../functions/_http'

export interface IncomingBodySource {
  /** Names the message `request` was made from; called by the server for every request. */
  register(request: Request, incoming: IncomingMessage): void
  readonly source: BodySource
}

export function createIncomingBodySource(): IncomingBodySource {
  const messages = new WeakMap<Request, IncomingMessage>()
  const read = new WeakSet<Request>()
  return {
    register(request, incoming) {
      messages.set(request, incoming)
    },
    source(request) {
      const incoming = messages.get(request)
      if (incoming === undefined) return undefined
      // One read per request, as with a Web stream, whose second reader is refused.
      if (read.has(request)) throw new TypeError('the request body has already been read')
      read.add(request)
      return chunksOf(incoming)
    },
  }
}

function chunksOf(incoming: IncomingMessage): BodyChunks {
  const iterator = incoming.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer>
  return {
    async next() {
      const { done, value } = await iterator.next()
      // A plain view, not a Buffer: Buffer's `slice` shares memory where Uint8Array's copies.
      return done === true ? undefined : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    },
    async stop() {
      await iterator.return?.()
    },
  }
}
