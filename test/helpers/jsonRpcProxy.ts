/**
 * A loopback JSON-RPC proxy in front of the chain, which shows each call to the test before
 * forwarding it: the test can count calls by method and view selector, or hold some of them
 * back (a slow chain). Anything that is not one JSON-RPC object (a batch, garbage) is shown
 * with no method and forwarded as it is.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'

export interface JsonRpcCall {
  /** `eth_call`, `eth_blockNumber`…; undefined for a batch or a body that is not JSON-RPC. */
  method: string | undefined
  /** The first 4 bytes of an `eth_call`'s data (`0x` and 8 hex digits), else ''. */
  selector: string
}

export interface JsonRpcProxy {
  url: string
  close(): Promise<void>
}

/** `onCall` returns how many ms to hold the call before forwarding it (0: at once). */
export async function startJsonRpcProxy(targetUrl: string, onCall: (call: JsonRpcCall) => number): Promise<JsonRpcProxy> {
  const target = new URL(targetUrl)
  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const body = Buffer.concat(chunks)
      const call: JsonRpcCall = { method: undefined, selector: '' }
      try {
        const parsed = JSON.parse(body.toString()) as { method?: unknown; params?: [{ data?: string; input?: string }] }
        if (typeof parsed.method === 'string') call.method = parsed.method
        const data = parsed.params?.[0]?.data ?? parsed.params?.[0]?.input ?? ''
        if (call.method === 'eth_call' && typeof data === 'string') call.selector = data.slice(0, 10)
      } catch {
        // not JSON-RPC: shown without a method
      }
      const forward = (): void => {
        const forwarded = httpRequest(
          { host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: { ...incoming.headers, 'content-length': String(body.length) } },
          (answer) => {
            outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
            answer.pipe(outgoing)
          },
        )
        forwarded.on('error', () => outgoing.destroy())
        forwarded.end(body)
      }
      const holdMs = onCall(call)
      if (holdMs > 0) setTimeout(forward, holdMs)
      else forward()
    })
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  return {
    url: `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
