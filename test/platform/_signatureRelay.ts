/**
 * A loopback relay in front of one real node (a hono app on `@hono/node-server`) that can
 * rewrite the v of `x-kms-response-signature` from 0/1 to 27/28: the same signature for
 * every verifier that normalises v, and one the runtime's client must reject (RUNTIME.md §1).
 */
import { createAdaptorServer } from '@hono/node-server'
import { Hono } from 'hono'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { parseHex } from '../../core/encoding'

export interface SignatureRelay {
  url: string
  /** Rewrite v = 0/1 to 27/28 on the way back. */
  rewriteV: boolean
  /** Every counter-signature the node sent, before any rewrite. */
  readonly signatures: string[]
  close(): Promise<void>
}

// Hop-by-hop or recomputed by fetch: never forwarded as they are.
const DROPPED_HEADERS = ['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']

export async function startSignatureRelay(targetUrl: string): Promise<SignatureRelay> {
  const relay: SignatureRelay = { url: '', rewriteV: false, signatures: [], close: async () => undefined }
  const app = new Hono().all('*', async (c) => {
    const incoming = new URL(c.req.url)
    const headers = new Headers(c.req.raw.headers)
    for (const name of DROPPED_HEADERS) headers.delete(name)
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer()
    const upstream = await fetch(`${targetUrl}${incoming.pathname}${incoming.search}`, { method: c.req.method, headers, ...(body === undefined ? {} : { body }) })
    const answer = new Headers(upstream.headers)
    for (const name of DROPPED_HEADERS) answer.delete(name)
    const signature = answer.get('x-kms-response-signature')
    if (signature !== null) {
      relay.signatures.push(signature)
      const v = parseHex(signature)![64]!
      if (relay.rewriteV && v < 27) answer.set('x-kms-response-signature', `${signature.slice(0, -2)}${(v + 27).toString(16)}`)
    }
    return new Response(await upstream.arrayBuffer(), { status: upstream.status, headers: answer })
  })
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  relay.close = () =>
    new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  return relay
}
