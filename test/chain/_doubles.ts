/**
 * Transport-level doubles for the error paths that a healthy anvil cannot produce: a port
 * with nothing behind it, an RPC that never answers, and an RPC with scripted answers. The
 * registry itself is always the real contract on anvil (DESIGN §5).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createNetServer } from 'node:net'
import { privateKeyToAccount } from 'viem/accounts'
import type { Hex } from 'viem'
import type { Wallet } from '../../core/encoding'
import type { Tee } from '../../core/tee'

/** An RPC URL on a port that was free a moment ago and is closed now: ECONNREFUSED. */
export async function closedPortUrl(): Promise<string> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}`
}

export interface RpcDouble {
  url: string
  close(): Promise<void>
}

export type RpcAnswer = { result: unknown } | { error: { code: number; message: string; data?: Hex } } | 'hang'

function parseRequest(body: string): { id?: number; method?: string; params?: unknown[] } {
  try {
    return JSON.parse(body) as { id: number; method: string; params: unknown[] }
  } catch {
    return {}
  }
}

/** A JSON-RPC server that answers each request with `answer(method, params)`. */
export async function startRpcDouble(answer: (method: string, params: unknown[]) => RpcAnswer): Promise<RpcDouble> {
  const server: Server = createHttpServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      // A body that is not JSON-RPC (e.g. a CCIP-read GET) still gets counted by `answer`.
      const { id = null, method = '', params = [] } = parseRequest(body)
      const reply = answer(method, params)
      if (reply === 'hang') return
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ jsonrpc: '2.0', id, ...reply }))
    })
  })
  return listenOnLoopback(server)
}

/**
 * An HTTP server whose every answer is written by `handle`, for what a JSON-RPC double cannot
 * say: redirects, endless or stalled bodies, wrong ids, HTTP errors with a JSON-RPC body.
 * `handle` gets the parsed request (`{}` if it is not JSON).
 */
export async function startHttpDouble(
  handle: (request: { id?: number; method?: string; params?: unknown[] }, response: ServerResponse, raw: IncomingMessage) => void,
): Promise<RpcDouble> {
  const server: Server = createHttpServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => handle(parseRequest(body), response, request))
  })
  return listenOnLoopback(server)
}

/** The TEE signing surface §9.3 needs, backed by a plain key (the real stand-in lives in core/tee). */
export function localSigner(privateKey: Hex): Pick<Tee, 'getWallet' | 'signTransaction'> & { wallet: Wallet } {
  const account = privateKeyToAccount(privateKey)
  const wallet = account.address.toLowerCase() as Wallet
  return {
    wallet,
    getWallet: async () => wallet,
    signTransaction: (transaction) => account.signTransaction({ type: 'eip1559', ...transaction }),
  }
}

/** Listens on a free loopback port; `close` drops open connections first, so it never waits on a client. */
async function listenOnLoopback(server: Server): Promise<RpcDouble> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
