/**
 * Request bodies under Node come straight from the IncomingMessage (bundle/incomingBodySource.ts,
 * issue 14), not from a Web stream. Against `node dist/kms.mjs` on anvil: a body sent in small
 * chunked pieces arrives byte for byte; a chunked body without Content-Length that runs past
 * MAX_REQUEST_BODY_BYTES is cut at the limit and answered 413 with the PROTOCOL body on its
 * own connection; and the node goes on serving, its data intact.
 */
import { request as httpRequest } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerKmsNode, registerTestApp, startProcessNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'

const BODY_LIMIT = 8_192

let chain: DevChain
let node: TestNode
let app: TestApp

interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: Uint8Array
}

/** Sends `pieces` as a chunked body (no Content-Length), one write per piece, a tick apart. */
function sendChunked(method: string, path: string, headers: Record<string, string>, pieces: readonly Uint8Array[]): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, node.url)
    const outgoing = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method, headers: { ...headers, 'content-type': 'application/json' } }, (incoming) => {
      const chunks: Buffer[] = []
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
      incoming.on('end', () => {
        const flat: Record<string, string> = {}
        for (const [name, value] of Object.entries(incoming.headers)) if (typeof value === 'string') flat[name] = value
        resolve({ status: incoming.statusCode ?? 0, headers: flat, body: new Uint8Array(Buffer.concat(chunks)) })
      })
    })
    // Past the limit the node answers and stops reading; the rest of our writes may then fail.
    outgoing.on('error', (error) => reject(error))
    let index = 0
    const pump = (): void => {
      if (index === pieces.length) return void outgoing.end()
      outgoing.write(pieces[index++]!, () => setImmediate(pump))
    }
    pump()
  })
}

function piecesOf(text: string, size: number): Uint8Array[] {
  const bytes = new TextEncoder().encode(text)
  const pieces: Uint8Array[] = []
  for (let offset = 0; offset < bytes.length; offset += size) pieces.push(bytes.subarray(offset, offset + size))
  return pieces
}

beforeAll(async () => {
  chain = await startDevChain()
  node = await startProcessNode(chain, {
    MASTER_SECRET_HEX: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
    KMS_NODE_TICK_SECONDS: '1',
    APP_RATE_LIMIT_PER_MINUTE: '0',
    MAX_REQUEST_BODY_BYTES: String(BODY_LIMIT),
  })
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available, { attempts: 40 })
  app = await registerTestApp(chain)
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('request bodies read from the IncomingMessage', () => {
  it('behavior: an envelope sent in 7-byte chunked pieces is stored byte for byte and reads back', async () => {
    const client = await app.client(node)
    const value = new Uint8Array(300).map((_, index) => (index * 37) & 0xff)
    const body = JSON.stringify(await client.sealRequest({ key: 'chunked', value: Buffer.from(value).toString('base64') }))
    const { headers, signatureSubject } = await client.authHeaders({ method: 'PUT', path: '/kms/data', body })
    const answer = await sendChunked('PUT', '/kms/data', headers, piecesOf(body, 7))
    expect(answer.status).toBe(200)
    // The answer is bound to this very request (v2): the SDK's own check accepts it.
    await client.openResponse(new Response(Uint8Array.from(answer.body), { status: answer.status, headers: answer.headers }), signatureSubject)
    expect([...(await client.getData('chunked')).value]).toEqual([...value])
  })

  it('error: a chunked body without Content-Length past MAX_REQUEST_BODY_BYTES is 413 payload_too_large, and the node goes on serving', async () => {
    const client = await app.client(node)
    // Signed for another body: the limit is hit before the body could be checked at all.
    const { headers } = await client.authHeaders({ method: 'PUT', path: '/kms/data', body: '{}' })
    const oversized = piecesOf(`{"pad":"${'x'.repeat(4 * BODY_LIMIT)}"}`, 1_024)
    const answer = await sendChunked('PUT', '/kms/data', headers, oversized).catch((error: unknown) => ({ error }))
    expect('status' in answer ? answer.status : answer).toBe(413)
    if ('status' in answer) expect(JSON.parse(new TextDecoder().decode(answer.body))).toEqual({ code: 'payload_too_large', message: 'Request body too large' })
    expect((await node.fetch('/health')).status).toBe(200)
    expect([...(await client.getData('chunked')).value].length).toBe(300)
  })
})
