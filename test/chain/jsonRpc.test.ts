/**
 * core/chain's JSON-RPC client (`_jsonRpcRequest.ts`, `_rpcClient.ts`) against local HTTP
 * doubles on 127.0.0.1, for each way an RPC can misbehave (PROTOCOL §3.3, §9.3): answers to
 * another request, redirects, endless and stalled bodies, HTTP errors that say "revert".
 * Through a reader, a revert is "not found" only when a 2xx answer says so.
 */
import { afterEach, describe, expect, test } from 'vitest'
import { createChainReaders, createRpcClient } from '../../core/chain'
import { isExecutionRevert } from '../../core/chain/_readErrors'
import { RpcResponseError, RpcTimeoutError, RpcTransportError } from '../../core/chain/_rpcErrors'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { startHttpDouble, type RpcDouble } from './_doubles'

const REGISTRY = `0x${'11'.repeat(20)}` as Wallet
const TARGET = { to: REGISTRY, data: '0x12345678' } as const

const doubles: RpcDouble[] = []
afterEach(async () => {
  await Promise.all(doubles.splice(0).map((double) => double.close()))
})

async function serve(handle: Parameters<typeof startHttpDouble>[0]): Promise<string> {
  const double = await startHttpDouble(handle)
  doubles.push(double)
  return double.url
}

function json(response: import('node:http').ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' })
  response.end(JSON.stringify(body))
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${String(value)}`)
    },
    (error: unknown) => error,
  )
}

describe('answers', () => {
  test('behavior: eth_call sends {to, data} at latest or at a block, and returns the bytes', async () => {
    const seen: unknown[] = []
    const url = await serve((request, response) => {
      seen.push({ method: request.method, params: request.params })
      json(response, 200, { jsonrpc: '2.0', id: request.id, result: '0x00ff' })
    })
    const rpc = createRpcClient({ rpcUrl: url })
    expect(await rpc.call(TARGET)).toEqual(new Uint8Array([0, 255]))
    expect(await rpc.call(TARGET, 300n)).toEqual(new Uint8Array([0, 255]))
    expect(seen).toEqual([
      { method: 'eth_call', params: [TARGET, 'latest'] },
      { method: 'eth_call', params: [TARGET, '0x12c'] },
    ])
  })

  test('behavior: every request gets its own id, and eth_blockNumber parses the quantity', async () => {
    const ids: unknown[] = []
    const url = await serve((request, response) => {
      ids.push(request.id)
      json(response, 200, { jsonrpc: '2.0', id: request.id, result: '0x1b4' })
    })
    const rpc = createRpcClient({ rpcUrl: url })
    expect(await rpc.blockNumber()).toBe(436n)
    expect(await rpc.blockNumber()).toBe(436n)
    expect(new Set(ids).size).toBe(2)
  })

  test('behavior: the injected fetch is the one used', async () => {
    const url = await serve((request, response) => json(response, 200, { jsonrpc: '2.0', id: request.id, result: '0x' }))
    let calls = 0
    const rpc = createRpcClient({ rpcUrl: url, fetch: (input, init) => ((calls += 1), fetch(input, init)) })
    expect(await rpc.call(TARGET)).toEqual(new Uint8Array())
    expect(calls).toBe(1)
  })

  test('error: a result that is not hex data, or a block number that is not a quantity', async () => {
    const url = await serve((request, response) =>
      json(response, 200, { jsonrpc: '2.0', id: request.id, result: request.method === 'eth_call' ? '0xabc' : 12 }),
    )
    const rpc = createRpcClient({ rpcUrl: url })
    expect(await rejection(rpc.call(TARGET))).toBeInstanceOf(RpcTransportError)
    expect(await rejection(rpc.blockNumber())).toBeInstanceOf(RpcTransportError)
  })
})

describe('refused answers', () => {
  test('error: an answer with another id is refused', async () => {
    const url = await serve((request, response) => json(response, 200, { jsonrpc: '2.0', id: (request.id ?? 0) + 1, result: '0x' }))
    const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTransportError)
    expect((error as Error).message).toMatch(/id does not match/)
  })

  test('error: an answer that is not JSON-RPC 2.0 is refused', async () => {
    const url = await serve((request, response) => json(response, 200, { jsonrpc: '1.0', id: request.id, result: '0x' }))
    const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTransportError)
    expect((error as Error).message).toMatch(/not JSON-RPC 2\.0/)
  })

  test('error: an answer that is not JSON, or has both result and error, is refused', async () => {
    const notJson = await serve((_request, response) => response.end('<html>'))
    expect(await rejection(createRpcClient({ rpcUrl: notJson }).call(TARGET))).toBeInstanceOf(RpcTransportError)
    const both = await serve((request, response) =>
      json(response, 200, { jsonrpc: '2.0', id: request.id, result: '0x', error: { code: 3, message: 'execution reverted' } }),
    )
    const error = await rejection(createRpcClient({ rpcUrl: both }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTransportError)
    expect(isExecutionRevert(error)).toBe(false)
  })

  test('error: a redirect is refused, and its target never asked', async () => {
    let followed = 0
    const target = await serve((request, response) => ((followed += 1), json(response, 200, { jsonrpc: '2.0', id: request.id, result: '0x' })))
    for (const status of [301, 302, 307, 308]) {
      const url = await serve((_request, response) => {
        response.writeHead(status, { location: target })
        response.end()
      })
      const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
      expect(error).toBeInstanceOf(RpcTransportError)
      expect((error as Error).message).toContain(`redirect (HTTP ${status})`)
    }
    expect(followed).toBe(0)
  })

  test('error: an endless body is cut off at the cap, and the connection closed', async () => {
    let written = 0
    let closed!: () => void
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve))
    const url = await serve((_request, response, request) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"jsonrpc":"2.0","id":1,"result":"0x')
      const chunk = 'ab'.repeat(32 * 1024)
      const pump = (): void => {
        // Keeps writing until the client goes away; the socket's close ends the pump.
        while (!response.destroyed && response.write(chunk)) written += chunk.length
        if (!response.destroyed) response.once('drain', pump)
      }
      request.socket.once('close', closed)
      pump()
    })
    const error = await rejection(createRpcClient({ rpcUrl: url, maxAnswerBytes: 256 * 1024 }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTransportError)
    expect((error as Error).message).toBe('the answer exceeds 262144 bytes')
    await connectionClosed
    // The server could buffer some more before the cancel reached it, but nowhere near "endless".
    expect(written).toBeLessThan(64 * 1024 * 1024)
  })

  test('error: headers that never come time out', async () => {
    const url = await serve(() => undefined)
    const error = await rejection(createRpcClient({ rpcUrl: url, timeoutMs: 200 }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTimeoutError)
    expect((error as Error).message).toMatch(/took too long/)
  })

  test('error: a body that stalls after the headers times out (the deadline covers the body)', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.write('{"jsonrpc":"2.0",')
    })
    const error = await rejection(createRpcClient({ rpcUrl: url, timeoutMs: 200 }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTimeoutError)
  })

  test('error: a connection refused is a transport error', async () => {
    const url = await serve((_request, response) => response.end())
    await doubles.pop()!.close()
    expect(await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))).toBeInstanceOf(RpcTransportError)
  })

  test('error: an HTTP error carrying a result is the HTTP error', async () => {
    const url = await serve((request, response) => json(response, 502, { jsonrpc: '2.0', id: request.id, result: '0x01' }))
    const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
    expect(error).toBeInstanceOf(RpcTransportError)
    expect((error as Error).message).toBe('HTTP 502')
  })
})

describe('reverts (fail closed)', () => {
  const revert = { code: 3, message: 'execution reverted', data: '0x' }

  test('behavior: a 200 answer with code 3 is a revert, and getApp reads it as not found', async () => {
    const url = await serve((request, response) => json(response, 200, { jsonrpc: '2.0', id: request.id, error: revert }))
    const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
    expect(error).toBeInstanceOf(RpcResponseError)
    expect(isExecutionRevert(error)).toBe(true)
    const readers = createChainReaders({ rpcUrl: url, novaAppRegistry: REGISTRY, kmsRegistry: REGISTRY })
    expect(await readers.novaAppRegistry.getApp(7)).toBeUndefined()
  })

  test('error: an HTTP 5xx saying "execution reverted" is unavailable, never not found', async () => {
    for (const status of [500, 503]) {
      const url = await serve((request, response) => json(response, status, { jsonrpc: '2.0', id: request.id, error: revert }))
      const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
      expect(error).toBeInstanceOf(RpcResponseError)
      expect((error as RpcResponseError).httpStatus).toBe(status)
      expect(isExecutionRevert(error)).toBe(false)
      const readers = createChainReaders({ rpcUrl: url, novaAppRegistry: REGISTRY, kmsRegistry: REGISTRY })
      const refused = await rejection(readers.novaAppRegistry.getApp(7))
      expect(refused).toBeInstanceOf(KmsError)
      expect((refused as KmsError).code).toBe('registry_unavailable')
      expect((refused as KmsError).details).toContain(`(HTTP ${status})`)
    }
  })

  test('error: a 200 answer with another error code and no "revert" is not a revert', async () => {
    const url = await serve((request, response) => json(response, 200, { jsonrpc: '2.0', id: request.id, error: { code: -32000, message: 'header not found' } }))
    const error = await rejection(createRpcClient({ rpcUrl: url }).call(TARGET))
    expect(isExecutionRevert(error)).toBe(false)
    const readers = createChainReaders({ rpcUrl: url, novaAppRegistry: REGISTRY, kmsRegistry: REGISTRY })
    expect(((await rejection(readers.novaAppRegistry.getApp(7))) as KmsError).code).toBe('registry_unavailable')
  })
})
