/**
 * `readBodyBytes` (functions/_http.ts) over the Node body source (bundle/incomingBodySource.ts):
 * a real node:http server on loopback hands each request's IncomingMessage to the source, and
 * the handler passes a body-less `Request`, so whatever bytes come back can only have come from
 * the IncomingMessage. The limit still cuts a streamed body, the message is left open for the
 * answer, and a second read is refused as a Web stream's would be.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createIncomingBodySource } from '../../../bundle/incomingBodySource'
import { KmsError } from '../../../core/errors'
import { readBodyBytes, useBodySource } from '../../../functions/_http'

const LIMIT = 1_000

let server: Server
let port: number
let handle: (incoming: IncomingMessage, outgoing: ServerResponse) => Promise<void>

beforeAll(async () => {
  server = createServer((incoming, outgoing) => void handle(incoming, outgoing))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
})

afterEach(() => {
  useBodySource(undefined)
})

/** Posts `pieces` chunked; resolves with the status and body text of the answer. */
function post(pieces: readonly string[]): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (incoming) => {
      let text = ''
      incoming.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      incoming.on('end', () => resolve({ status: incoming.statusCode ?? 0, text }))
    })
    outgoing.on('error', reject)
    let index = 0
    const pump = (): void => {
      if (index === pieces.length) return void outgoing.end()
      outgoing.write(pieces[index++]!, () => setImmediate(pump))
    }
    pump()
  })
}

/** The handler every test installs: a body-less Request, the IncomingMessage registered behind it. */
function serveWith(read: (request: Request) => Promise<string>): void {
  const bodies = createIncomingBodySource()
  useBodySource(bodies.source)
  handle = async (incoming, outgoing) => {
    const request = new Request(`http://127.0.0.1:${port}/`, { method: 'GET' })
    bodies.register(request, incoming)
    try {
      const text = await read(request)
      outgoing.writeHead(200).end(text)
    } catch (error) {
      outgoing.writeHead(error instanceof KmsError ? error.status : 500).end(error instanceof Error ? error.message : String(error))
    }
  }
}

describe('readBodyBytes over the IncomingMessage', () => {
  test('behavior: the bytes come from the IncomingMessage, in order, across chunk boundaries', async () => {
    serveWith(async (request) => new TextDecoder().decode(await readBodyBytes(request, LIMIT)))
    const pieces = ['{"a":', '"é', '…"', ',"b":[1,2,3]}']
    expect(await post(pieces)).toEqual({ status: 200, text: pieces.join('') })
  })

  test('error: a streamed body past the limit is 413, and the answer still goes out on the open message', async () => {
    serveWith(async (request) => String((await readBodyBytes(request, LIMIT)).length))
    const answer = await post(Array.from({ length: 8 }, () => 'x'.repeat(400)))
    expect(answer).toEqual({ status: 413, text: 'Request body too large' })
  })

  test('behavior: the node-wide budget is charged chunk by chunk, and its refusal stops the read', async () => {
    const charged: number[] = []
    const budget = {
      holdBody(_request: Request, bytes: number) {
        if (charged.reduce((sum, value) => sum + value, 0) + bytes > 500) throw new KmsError('service_unavailable', 'Server busy')
        charged.push(bytes)
      },
    }
    serveWith(async (request) => String((await readBodyBytes(request, LIMIT, budget)).length))
    expect((await post(['a'.repeat(200), 'b'.repeat(200), 'c'.repeat(200)])).status).toBe(503)
    expect(charged.reduce((sum, value) => sum + value, 0)).toBeLessThanOrEqual(500)
  })

  test('error: a second read of one request is refused', async () => {
    serveWith(async (request) => {
      await readBodyBytes(request, LIMIT)
      return String((await readBodyBytes(request, LIMIT)).length)
    })
    const answer = await post(['{}'])
    expect(answer).toEqual({ status: 500, text: 'the request body has already been read' })
  })

  test('behavior: without a registered message, the Request\'s own stream is read', async () => {
    serveWith(async () => new TextDecoder().decode(await readBodyBytes(new Request('http://x/', { method: 'POST', body: 'own stream' }), LIMIT)))
    expect(await post(['ignored'])).toEqual({ status: 200, text: 'own stream' })
  })
})
