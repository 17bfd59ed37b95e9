/**
 * Bounded peer replies (issue 12, H2; PROTOCOL §4.1, §7.2, §12.3): every reply a node reads
 * from a peer is capped in bytes and time, the stream is cancelled past the cap, and a
 * redirect is a failure that is never followed. In process: streams made here, a fake fetch,
 * and the real SyncClient against a real node (the in-process harness).
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../core/chain'
import { fetchPeer, PeerCache, probePeers, readBoundedBody } from '../../../core/cluster'
import { createLocalTee } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { createHarness, type HarnessNode } from './_syncHarness'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

/** A body of `chunks` chunks of `size` bytes, counting how many were pulled and whether it was cancelled. */
function countingStream(chunks: number, size: number) {
  const state = { pulled: 0, cancelled: false }
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (state.pulled === chunks) return controller.close()
      state.pulled++
      controller.enqueue(new Uint8Array(size).fill(0x41))
    },
    cancel() {
      state.cancelled = true
    },
  }, { highWaterMark: 0 })
  return { stream, state }
}

async function failure(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  throw new Error('expected a failure')
}

describe('readBoundedBody', () => {
  it('behavior: a body within the limit is returned whole, chunks joined', async () => {
    const { stream } = countingStream(3, 10)
    expect(await readBoundedBody(new Response(stream), 30)).toEqual(new Uint8Array(30).fill(0x41))
    expect(await readBoundedBody(new Response(null), 0)).toEqual(new Uint8Array(0))
  })

  it('error: a streamed body past the limit is cancelled one chunk past it (200 MB is never read)', async () => {
    const { stream, state } = countingStream(200 * 16, 64 * 1024) // 200 MiB in 64 KiB chunks
    expect(await failure(() => readBoundedBody(new Response(stream), 1024))).toBe('peer answer exceeds 1024 bytes')
    expect(state.pulled).toBeLessThanOrEqual(2)
    expect(state.cancelled).toBe(true)
  })

  it('error: a declared Content-Length past the limit is refused before a byte is read', async () => {
    const { stream, state } = countingStream(10, 1)
    const response = new Response(stream, { headers: { 'content-length': '200000000' } })
    expect(await failure(() => readBoundedBody(response, 1024))).toBe('peer answer exceeds 1024 bytes')
    expect(state.pulled).toBe(0)
  })

  it('error: an aborted deadline ends a body that trickles, as a timeout, never as a short body', async () => {
    const controller = new AbortController()
    let push: ((chunk: Uint8Array) => void) | undefined
    const stream = new ReadableStream<Uint8Array>({ start(c) { push = (chunk) => c.enqueue(chunk) } })
    const reading = readBoundedBody(new Response(stream), 1024, controller.signal)
    push!(new Uint8Array([0x7b]))
    await new Promise((resolve) => setTimeout(resolve, 5))
    controller.abort()
    expect(await failure(() => reading)).toBe('peer answer timed out')
  })
})

describe('fetchPeer', () => {
  it('behavior: every request is sent with redirect: manual and a deadline', async () => {
    const seen: RequestInit[] = []
    const fetch = (async (_url: string, init: RequestInit) => {
      seen.push(init)
      return new Response('{}')
    }) as unknown as typeof globalThis.fetch
    await fetchPeer(fetch, 'https://peer.example/nonce', { method: 'GET' }, 5000)
    expect(seen[0]!.redirect).toBe('manual')
    expect(seen[0]!.signal).toBeInstanceOf(AbortSignal)
  })

  it('error: any 3xx, or an opaque redirect, is a failure, and its body is cancelled', async () => {
    for (const status of [301, 302, 303, 307, 308, 300, 399]) {
      const { stream, state } = countingStream(10, 1)
      const fetch = (async () => new Response(stream, { status, headers: { location: 'http://127.0.0.1:1/' } })) as unknown as typeof globalThis.fetch
      expect(await failure(() => fetchPeer(fetch, 'https://peer.example/sync', { method: 'POST' }, 5000))).toBe(`peer answered a redirect (${status})`)
      expect(state.cancelled).toBe(true)
    }
    const opaque = (async () => Object.defineProperty(new Response(null, { status: 200 }), 'type', { value: 'opaqueredirect' })) as unknown as typeof globalThis.fetch
    expect(await failure(() => fetchPeer(opaque, 'https://peer.example/sync', { method: 'POST' }, 5000))).toMatch(/^peer answered a redirect/)
  })

  it('error: a network failure is peer unreachable', async () => {
    const fetch = (async () => {
      throw new TypeError('connection refused')
    }) as unknown as typeof globalThis.fetch
    expect(await failure(() => fetchPeer(fetch, 'https://peer.example/nonce', {}, 5000))).toBe('peer unreachable')
  })
})

describe('the SyncClient reads every reply through a cap and never follows a redirect', () => {
  async function pair(env: Record<string, string> = {}) {
    const harness = await createHarness([{ name: 'a', env }, { name: 'b' }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    await a.node.appValues.put(1000, 'k', new TextEncoder().encode('v'), 0)
    const pushToB = () => a.client.pushDelta(harness.peerOf(a, b), a.node.store.selectDelta(0))
    return { harness, a, b, pushToB }
  }

  it('error: a /nonce answer over 1 KiB is cut, whatever it streams', async () => {
    const { b, pushToB } = await pair()
    const { stream, state } = countingStream(200 * 16, 64 * 1024)
    b.intercept = (request) => (request.url.endsWith('/nonce') ? new Response(stream) : undefined)
    expect(await failure(pushToB)).toBe('peer answer exceeds 1024 bytes')
    expect(state.pulled).toBeLessThanOrEqual(2)
  })

  it('error: a /sync 2xx over MAX_SYNC_PAYLOAD_BYTES is cut; an error answer over 16 KiB too', async () => {
    const { b, pushToB } = await pair({ MAX_SYNC_PAYLOAD_BYTES: '100000' })
    const big = countingStream(1000, 64 * 1024)
    b.intercept = (request) => (request.url.endsWith('/sync') ? new Response(big.stream) : undefined)
    expect(await failure(pushToB)).toBe('peer answer exceeds 100000 bytes')
    expect(big.state.pulled).toBeLessThanOrEqual(3)
    const error = countingStream(1000, 64 * 1024)
    b.intercept = (request) => (request.url.endsWith('/sync') ? new Response(error.stream, { status: 500 }) : undefined)
    expect(await failure(pushToB)).toBe('peer answer exceeds 16384 bytes')
  })

  it('error: a 307 from /nonce or /sync is a failure, and nothing is sent to the Location', async () => {
    const { harness, b, pushToB } = await pair()
    for (const path of ['/nonce', '/sync']) {
      b.intercept = (request) => (request.url.endsWith(path) ? new Response(null, { status: 307, headers: { location: 'http://c.test/sync' } }) : undefined)
      expect(await failure(pushToB)).toBe('peer answered a redirect (307)')
    }
    expect(harness.nodes.every((entry) => entry.received.every((request) => !request.url.startsWith('http://c.test')))).toBe(true)
  })
})

describe('status probes (PROTOCOL §7.2) are bounded and follow no redirect', () => {
  it('behavior: a redirect, a huge body or an answer past the deadline counts as unreachable', async () => {
    const clock = new FakeClock(1_000)
    const key = await (await createLocalTee({ random: seededRandom(3) })).getEncryptionPublicKey()
    const record = (n: number): InstanceRecord => {
      const wallet = `0x${n.toString(16).padStart(40, '0')}` as const
      return { instanceId: n, appId: 49, versionId: 1, operator: wallet, instanceUrl: `https://p${n}.example`, teePubkey: key, teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1 }
    }
    const records = new Map([1, 2, 3].map((n) => [record(n).teeWalletAddress, record(n)] as const))
    const peers = new PeerCache({
      registry: { getActiveInstances: async () => [...records.keys()], getInstanceByWallet: async (wallet) => records.get(wallet as never), getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }) },
      kmsAppId: 49, mode: 'enclave', clock, ttlSeconds: 180,
    })
    await peers.refresh()
    const huge = countingStream(200 * 16, 64 * 1024)
    const inits: RequestInit[] = []
    const fetch = (async (url: string, init: RequestInit) => {
      inits.push(init)
      if (url.startsWith('https://p1.')) return new Response(null, { status: 307, headers: { location: 'https://elsewhere.example/' } })
      if (url.startsWith('https://p2.')) return new Response(huge.stream)
      return new Response('{"node":{}}')
    }) as unknown as typeof globalThis.fetch
    await probePeers(peers, fetch, clock)
    expect(inits.every((init) => init.redirect === 'manual')).toBe(true)
    expect(peers.peers.map((peer) => peer.probe?.reachable)).toEqual([false, false, true])
    expect(huge.state.pulled).toBeLessThanOrEqual(2)
  })
})
