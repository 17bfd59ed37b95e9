/**
 * A hostile relay between the SDK and a node (issue 12, finding H1): the host terminates TLS,
 * so it can replay, swap, reflect and forge. With binding v2 (PROTOCOL §3.5) each attack
 * that worked on v1 is refused, by the SDK (answers) or by the node (requests). The node is
 * `dist/kms.mjs` in Miniflare on anvil; the relay is itty-router on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClient, KmsClientError } from '../../core/client'
import { parseHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, refusal, registerKmsNode, registerTestApp, startMiniflareNode, systemClock, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import { answerHeaders, replayOf, startRelay, type Exchange, type Relay } from '../helpers/relay'

let chain: DevChain
let node: TestNode
let relay: Relay
let app: TestApp

async function clientThroughRelay(target: TestApp, bindingVersion: 1 | 2 = 2, via: Relay = relay, to: TestNode = node): Promise<KmsClient> {
  const { node: self } = await to.status()
  return new KmsClient({
    node: { url: via.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! },
    walletKey: target.walletKey,
    teeKey: target.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    bindingVersion,
  })
}

/** The failure of a call that must be refused by the SDK itself (status 0). */
async function sdkRefusal(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsClientError && error.status === 0) return error.code
    throw error
  }
  throw new Error('expected the SDK to refuse the answer')
}

function lastExchange(method: string, pathPrefix: string): Exchange {
  const found = [...relay.exchanges].reverse().find((exchange) => exchange.method === method && exchange.path.startsWith(pathPrefix))
  if (found === undefined) throw new Error(`no ${method} ${pathPrefix} exchange recorded`)
  return found
}

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

beforeAll(async () => {
  chain = await startDevChain()
  node = await startMiniflareNode(chain)
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available)
  relay = await startRelay(node.url)
  app = await registerTestApp(chain)
})

afterAll(async () => {
  await relay?.close()
  await node?.stop()
  await chain?.stop()
})

describe('a relay that replays, swaps, reflects and forges (binding v2)', () => {
  it('behavior: without tampering, the relay is transparent: v2 derive, put, get and list work', async () => {
    relay.tamper = undefined
    const client = await clientThroughRelay(app)
    expect((await client.derive({ path: 'wallet/root' })).key).toHaveLength(32)
    await client.putData('k', encode('first'))
    expect(decode((await client.getData('k')).value)).toBe('first')
    expect(await client.listData()).toContain('k')
    const derive = lastExchange('POST', '/kms/derive')
    expect(derive.responseHeaders.get('x-kms-response-binding')).toMatch(/^0x[0-9a-f]{128}0[01]$/)
    expect(derive.responseHeaders.get('x-kms-response-signature')).toBeNull()
  })

  it('error: a stale getData answer, replayed for a later read, is refused by the SDK', async () => {
    relay.tamper = undefined
    const client = await clientThroughRelay(app)
    await client.putData('k', encode('old'))
    await client.getData('k')
    const stale = lastExchange('GET', '/kms/data?key=k')
    await client.putData('k', encode('new'))
    relay.tamper = async (request) => (request.method === 'GET' && request.path === '/kms/data?key=k' ? replayOf(stale) : undefined)
    expect(await sdkRefusal(() => client.getData('k'))).toBe('unbound_response')
    relay.tamper = undefined
    expect(decode((await client.getData('k')).value)).toBe('new')
  })

  it('error: the key derived for another path, returned as wallet/root, is refused', async () => {
    relay.tamper = undefined
    const client = await clientThroughRelay(app)
    await client.derive({ path: 'other/path' })
    const other = lastExchange('POST', '/kms/derive')
    relay.tamper = async (request) => (request.path === '/kms/derive' ? replayOf(other) : undefined)
    expect(await sdkRefusal(() => client.derive({ path: 'wallet/root' }))).toBe('unbound_response')
  })

  it('error: a list answer returned as a value is refused', async () => {
    relay.tamper = undefined
    const client = await clientThroughRelay(app)
    await client.listData()
    const list = lastExchange('GET', '/kms/data')
    expect(list.path).toBe('/kms/data')
    relay.tamper = async (request) => (request.path === '/kms/data?key=k' ? replayOf(list) : undefined)
    expect(await sdkRefusal(() => client.getData('k'))).toBe('unbound_response')
  })

  it("error: the app's own PUT envelope, reflected as the answer, is refused", async () => {
    const client = await clientThroughRelay(app)
    relay.tamper = async (request) =>
      request.method === 'PUT' ? new Response(request.body.slice(), { status: 200, headers: { 'content-type': 'application/json' } }) : undefined
    expect(await sdkRefusal(() => client.putData('k', encode('reflected')))).toBe('unbound_response')
    relay.tamper = undefined
  })

  it('error: a forged 404 is an unbound answer, never a not-found (it would make the runtime regenerate a wallet)', async () => {
    const client = await clientThroughRelay(app)
    relay.tamper = async (request) =>
      request.path === '/kms/data?key=k' ? new Response('{"code":"not_found","message":"Key not found"}', { status: 404, headers: { 'content-type': 'application/json' } }) : undefined
    expect(await sdkRefusal(() => client.getData('k'))).toBe('unbound_response')
    relay.tamper = undefined
  })

  it('error: an old PUT body under fresh PoP headers is refused by the node, and the value does not roll back', async () => {
    relay.tamper = undefined
    const client = await clientThroughRelay(app)
    await client.putData('rollback', encode('old value'))
    const oldPut = lastExchange('PUT', '/kms/data')
    await client.putData('rollback', encode('new value'))

    // Fresh headers for some other PUT, with the old body attached.
    const freshBody = JSON.stringify(await client.sealRequest({ key: 'rollback', value: 'AA==' }))
    const fresh = await client.authHeaders({ method: 'PUT', path: '/kms/data', body: freshBody })
    const swapped = await node.fetch('/kms/data', { method: 'PUT', headers: { 'content-type': 'application/json', ...fresh.headers }, body: oldPut.requestBody.slice() })
    expect(swapped.status).toBe(403)
    expect(await swapped.json()).toEqual({ code: 'unauthorized', message: 'Request binding mismatch' })

    // The old content hash as well: the fresh signature covers another digest.
    const again = await client.authHeaders({ method: 'PUT', path: '/kms/data', body: freshBody })
    const headers = { ...again.headers, 'x-app-content-sha256': oldPut.requestHeaders.get('x-app-content-sha256')! }
    const relabelled = await node.fetch('/kms/data', { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: oldPut.requestBody.slice() })
    expect(relabelled.status).toBe(403)
    expect(await relabelled.json()).toEqual({ code: 'unauthorized', message: 'Request binding mismatch' })

    expect(decode((await client.getData('rollback')).value)).toBe('new value')
  })

  it('error: stripping X-App-Auth-Version from a v2 request does not downgrade it to v1', async () => {
    const client = await clientThroughRelay(app)
    const body = JSON.stringify(await client.sealRequest({ path: 'wallet/root' }))
    const { headers } = await client.authHeaders({ method: 'POST', path: '/kms/derive', body })
    const stripped: Record<string, string> = { ...headers }
    delete stripped['x-app-auth-version']
    const response = await node.fetch('/kms/derive', { method: 'POST', headers: stripped, body })
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ code: 'unauthorized', message: 'App wallet header does not match signature' })
  })

  it('error: a post-authentication error is bound, and a relay that changes its status is caught', async () => {
    const client = await clientThroughRelay(app)
    relay.tamper = undefined
    // A missing key: the node's 404 is bound, so the SDK believes it.
    expect((await refusal(() => client.getData('never-written'))).status).toBe(404)
    const notFound = lastExchange('GET', '/kms/data?key=never-written')
    expect(notFound.responseHeaders.get('x-kms-response-binding')).not.toBeNull()
    // The same bound body with another status does not verify.
    relay.tamper = async (request) =>
      request.path === '/kms/data?key=never-written'
        ? new Response(notFound.responseBody.slice(), { status: 400, headers: answerHeaders(notFound.responseHeaders) })
        : undefined
    expect(await sdkRefusal(() => client.getData('never-written'))).toBe('unbound_response')
    relay.tamper = undefined
  })
})

describe('a relay that answers with more than any honest answer', () => {
  it('error: the SDK stops reading past 8 MiB and refuses the answer', async () => {
    const client = await clientThroughRelay(app)
    const chunk = new Uint8Array(1024 * 1024).fill(0x7b)
    let sent = 0
    relay.tamper = async (request) => {
      if (request.path !== '/kms/derive') return undefined
      // 64 MiB, streamed: the SDK must cancel long before the end.
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 64) return controller.close()
          sent++
          controller.enqueue(chunk)
        },
      })
      return new Response(stream, { status: 200, headers: { 'content-type': 'application/json' } })
    }
    expect(await sdkRefusal(() => client.derive({ path: 'wallet/root' }))).toBe('oversized_response')
    relay.tamper = undefined
    expect(sent).toBeLessThan(64)
  })
})

describe('MIN_APP_AUTH_VERSION=2', () => {
  it('error: a node that requires binding v2 refuses v1 and serves v2', async () => {
    const strict = await startMiniflareNode(chain, { MIN_APP_AUTH_VERSION: '2' })
    try {
      await registerKmsNode(chain, strict)
      // The first node must see the newcomer in its peer cache before it hands over the secret.
      await node.tick('node_tick')
      await tickUntil(strict, (status) => status.node.service_available)
      const strictRelay = await startRelay(strict.url)
      try {
        const v1 = await clientThroughRelay(app, 1, strictRelay, strict)
        expect(await refusal(() => v1.derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Request binding required' })
        const v2 = await clientThroughRelay(app, 2, strictRelay, strict)
        expect((await v2.derive({ path: 'p' })).key).toHaveLength(32)
      } finally {
        await strictRelay.close()
      }
    } finally {
      await strict.stop()
    }
  })
})
