/**
 * Peers that hang (issue 14), for the registry to list like real KMS nodes:
 * - `silent`: a TCP server that accepts every connection and never writes a byte;
 * - `trickle`: an HTTP server that answers `/nonce` like a node (so the requester goes on to
 *   `/sync`) and then answers `/sync` (and anything else) with a 200 whose body trickles one
 *   byte a second, never ending by itself.
 *
 * Both count connections: accepted, open now, the most open at once, and how many the client
 * closed. Every socket they hold is destroyed by `close()`, and a trickle also stops after
 * `maxTrickleMs` (default 10 minutes), so nothing outlives the suite.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import { LOOPBACK } from '../../bundle/processes'

export interface HangingPeer {
  url: string
  mode: 'silent' | 'trickle'
  readonly stats: {
    accepted: number
    open: number
    maxOpen: number
    /** Connections the peer saw closed while it still held them: the client gave up. */
    closedByClient: number
    /** HTTP requests read (trickle only). */
    requests: number
    /** Bytes trickled so far (trickle only). */
    bytesTrickled: number
  }
  close(): Promise<void>
}

function newStats(): HangingPeer['stats'] {
  return { accepted: 0, open: 0, maxOpen: 0, closedByClient: 0, requests: 0, bytesTrickled: 0 }
}

export async function startHangingPeer(mode: 'silent' | 'trickle', { maxTrickleMs = 600_000 }: { maxTrickleMs?: number } = {}): Promise<HangingPeer> {
  const stats = newStats()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closing = false
  const onConnection = (socket: Socket): void => {
    stats.accepted++
    stats.open++
    stats.maxOpen = Math.max(stats.maxOpen, stats.open)
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.once('close', () => {
      sockets.delete(socket)
      stats.open--
      if (!closing) stats.closedByClient++
    })
  }
  let server: TcpServer | HttpServer
  if (mode === 'silent') {
    // Reads what comes (so the client's writes never block) and answers nothing.
    server = createTcpServer((socket) => {
      onConnection(socket)
      socket.resume()
    })
  } else {
    const http = createHttpServer((incoming, outgoing) => {
      stats.requests++
      incoming.resume()
      const path = new URL(incoming.url ?? '/', 'http://x').pathname
      if (path === '/nonce') {
        outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: Buffer.alloc(16, 7).toString('base64') }))
        return
      }
      outgoing.writeHead(200, { 'content-type': 'application/json' })
      outgoing.write('{"sender_tee_pubkey":"')
      const started = performance.now()
      const timer = setInterval(() => {
        if (performance.now() - started > maxTrickleMs) {
          clearInterval(timer)
          timers.delete(timer)
          outgoing.end()
          return
        }
        outgoing.write('a')
        stats.bytesTrickled++
      }, 1000)
      timers.add(timer)
      outgoing.once('close', () => {
        clearInterval(timer)
        timers.delete(timer)
      })
    })
    http.on('connection', onConnection)
    // Node's own server timeouts would end a trickle: this peer never gives up by itself.
    http.requestTimeout = 0
    http.headersTimeout = 0
    http.keepAliveTimeout = 0
    http.timeout = 0
    server = http
  }
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()))
  const address = server.address()
  return {
    url: `http://${LOOPBACK}:${typeof address === 'object' && address !== null ? address.port : 0}`,
    mode,
    stats,
    async close() {
      closing = true
      for (const timer of timers) clearInterval(timer)
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
