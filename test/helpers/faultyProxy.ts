/**
 * A loopback HTTP proxy in front of one node, so a test can cut the node off (a partition)
 * and heal it. Nodes are registered with the proxy's URL; peers reach each other only
 * through proxies, so blocking a node's proxy and its outgoing /sync at the others'
 * isolates it both ways.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { Wallet } from '../../core/encoding'

export interface FaultyProxy {
  url: string
  /** Refuse everything addressed to this node. */
  isolated: boolean
  /** Refuse /sync requests sent by these wallets (their outgoing half of a partition). */
  readonly blockedSenders: Set<Wallet>
  /** Requests refused so far. */
  refused: number
  close(): Promise<void>
}

export async function startFaultyProxy(targetUrl: string): Promise<FaultyProxy> {
  const target = new URL(targetUrl)
  let server: Server | undefined
  const proxy: FaultyProxy = {
    url: '',
    isolated: false,
    blockedSenders: new Set(),
    refused: 0,
    close: () => new Promise((resolve) => (server ? server.close(() => resolve()) : resolve())),
  }
  server = createServer((incoming, outgoing) => {
    const sender = incoming.headers['x-kms-wallet']
    if (proxy.isolated || (typeof sender === 'string' && proxy.blockedSenders.has(sender.toLowerCase() as Wallet))) {
      proxy.refused++
      incoming.resume()
      // A partition looks like a dead connection, not an HTTP answer.
      incoming.socket.destroy()
      return
    }
    const forwarded = httpRequest(
      { host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      },
    )
    forwarded.on('error', () => outgoing.destroy())
    incoming.pipe(forwarded)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  proxy.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  return proxy
}
