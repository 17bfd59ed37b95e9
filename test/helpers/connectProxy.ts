/**
 * A small HTTP forward proxy on loopback, as the enclave runtime's egress proxy is
 * (RUNTIME.md §3): CONNECT tunnels and plain absolute-form requests, each logged. It resolves
 * the names it is given (e.g. `peer1.kms.test` → 127.0.0.1) and loopback IP literals, and
 * refuses every other target, so a test never leaves the machine. A name only this proxy
 * resolves can be reached only through it: a request that arrives there went through the
 * proxy.
 *
 * @module
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { LOOPBACK } from '../../bundle/processes'

export interface ProxyLogEntry {
  /** `connect`: a CONNECT tunnel; `http`: a plain proxied request (absolute-form URL). */
  kind: 'connect' | 'http'
  /** The target as the client named it, `host:port` (the host in lower case). */
  target: string
  /** Plain requests: the method and path. */
  method?: string
  path?: string
  /** Whether the proxy forwarded it (false: an unknown target, refused with 502). */
  forwarded: boolean
}

export interface ConnectProxy {
  /** `http://127.0.0.1:<port>`, for `http_proxy` / `https_proxy`. */
  url: string
  port: number
  /** Every tunnel and proxied request, in arrival order. */
  readonly log: readonly ProxyLogEntry[]
  stop(): Promise<void>
}

export interface ConnectProxyOptions {
  /** Host names the proxy resolves, and the address each resolves to (a loopback address). */
  hosts?: Readonly<Record<string, string>>
}

const LOOPBACK_LITERALS = new Set(['127.0.0.1', '::1', '[::1]', 'localhost'])

/** Splits `host:port` (IPv6 in brackets); undefined if it has no valid port. */
function splitTarget(target: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(target)
  if (match === null) return undefined
  const port = Number(match[2])
  return port > 0 && port < 65536 ? { host: match[1]!.toLowerCase(), port } : undefined
}

/** Starts the proxy on a free loopback port. */
export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const hosts = new Map(Object.entries(options.hosts ?? {}).map(([name, address]) => [name.toLowerCase(), address]))
  const resolve = (host: string): string | undefined => {
    const mapped = hosts.get(host)
    if (mapped !== undefined) return mapped
    return LOOPBACK_LITERALS.has(host) ? (host === 'localhost' ? LOOPBACK : host.replace(/^\[|\]$/g, '')) : undefined
  }
  const log: ProxyLogEntry[] = []
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }

  const server: Server = createServer((request, response) => {
    // Plain proxying: the request line carries the absolute URL.
    let url: URL
    try {
      url = new URL(request.url ?? '')
    } catch {
      response.writeHead(400).end('absolute-form URL expected')
      return
    }
    const port = Number(url.port || 80)
    const host = url.hostname.toLowerCase()
    const address = url.protocol === 'http:' ? resolve(host.includes(':') ? `[${host}]` : host) : undefined
    const entry: ProxyLogEntry = { kind: 'http', target: `${host}:${port}`, method: request.method, path: `${url.pathname}${url.search}`, forwarded: address !== undefined }
    log.push(entry)
    if (address === undefined) {
      response.writeHead(502).end('unknown target')
      return
    }
    const upstream = httpRequest(
      { host: address, port, method: request.method, path: entry.path, headers: request.headers },
      (answer: IncomingMessage) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(response)
      },
    )
    upstream.once('error', () => response.headersSent ? response.destroy() : response.writeHead(502).end('upstream failed'))
    request.pipe(upstream)
  })
  server.on('connection', track)
  server.on('connect', (request: IncomingMessage, client: Socket, head: Buffer) => {
    const target = splitTarget(request.url ?? '')
    const address = target === undefined ? undefined : resolve(target.host)
    log.push({ kind: 'connect', target: target === undefined ? (request.url ?? '') : `${target.host}:${target.port}`, forwarded: address !== undefined })
    if (target === undefined || address === undefined) {
      client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n')
      return
    }
    const upstream = connect({ host: address, port: target.port })
    track(upstream)
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head.length > 0) upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.once('error', () => (client.writable ? client.end('HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n') : client.destroy()))
    client.once('error', () => upstream.destroy())
    client.once('close', () => upstream.destroy())
    upstream.once('close', () => client.destroy())
  })

  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(0, LOOPBACK, () => done())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://${LOOPBACK}:${port}`,
    port,
    log,
    stop: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((done) => server.close(() => done()))
    },
  }
}
