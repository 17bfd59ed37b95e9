/**
 * A loopback proxy in front of one node that counts what peers send it (as
 * test/helpers/faultyProxy.ts, but counting instead of cutting). Nodes are registered under
 * their proxy's URL, so every peer-to-peer exchange (/nonce, /sync) passes through one.
 * Bytes are bodies only (request and response, after de-chunking); headers are not counted.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'

export interface Exchange {
  path: string
  /** `x-kms-wallet` of a /sync request; '' otherwise. */
  sender: string
  requestBytes: number
  responseBytes: number
  startedAt: number
  endedAt: number
}

export interface CountingProxy {
  url: string
  exchanges: Exchange[]
  close(): Promise<void>
}

export async function startCountingProxy(targetUrl: string): Promise<CountingProxy> {
  const target = new URL(targetUrl)
  const exchanges: Exchange[] = []
  const server: Server = createServer((incoming, outgoing) => {
    const exchange: Exchange = {
      path: (incoming.url ?? '').split('?')[0]!,
      sender: String(incoming.headers['x-kms-wallet'] ?? '').toLowerCase(),
      requestBytes: 0,
      responseBytes: 0,
      startedAt: performance.now(),
      endedAt: Number.NaN,
    }
    incoming.on('data', (chunk: Buffer) => (exchange.requestBytes += chunk.length))
    const forwarded = httpRequest(
      { host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.on('data', (chunk: Buffer) => (exchange.responseBytes += chunk.length))
        answer.on('end', () => {
          exchange.endedAt = performance.now()
          exchanges.push(exchange)
        })
        answer.pipe(outgoing)
      },
    )
    forwarded.on('error', () => outgoing.destroy())
    incoming.pipe(forwarded)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    exchanges,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
