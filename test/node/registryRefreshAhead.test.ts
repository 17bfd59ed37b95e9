/**
 * Refresh ahead (core/chain/createCachedRegistry.ts, issue 14 "tail latency"): a node under
 * Node reloads the registry entries an app uses in the last second of their 5 s lifetime,
 * in the background, so no request waits on the chain when they expire. In workerd work
 * cannot outlive its request, so there an entry is reloaded on the request path at expiry.
 *
 * The chain is made slow on purpose: a JSON-RPC proxy holds every authorization read (the
 * three NovaAppRegistry views of §3.3) for HOLD_MS. Sequential derives then run across two
 * expiries. Under Node none of them takes as long as a held read; in Miniflare the ones at
 * expiry do, which shows that the proxy's delay does reach the request path when nothing
 * refreshes ahead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FOUND_TTL_CAP_SECONDS, NODE_REFRESH_AHEAD_SECONDS } from '../../core/chain'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { startJsonRpcProxy } from '../helpers/jsonRpcProxy'
import { registerKmsNode, registerTestApp, startMiniflareNode, startProcessNode, tickUntil, type TestNode } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '1f'.repeat(32)
/** Below the refresh-ahead second, so a reload started 1 s before expiry ends before it. */
const HOLD_MS = 700
/** Two lifetimes and a bit: every entry expires at least twice during the loop. */
const LOOP_MS = (2 * FOUND_TTL_CAP_SECONDS + 1) * 1000

/** NovaAppRegistry selectors of the authorization reads (PROTOCOL §9.2). */
const AUTHORIZATION_SELECTORS = new Set(['0x9863f8a2', '0x24f3a51b', '0x6987b075'])

interface SlowRpc {
  url: string
  /** While true, authorization reads are held HOLD_MS before they are forwarded. */
  slow: boolean
  held: number
  close(): Promise<void>
}

async function startSlowRpc(targetUrl: string): Promise<SlowRpc> {
  const rpc: SlowRpc = { url: '', slow: false, held: 0, close: async () => undefined }
  const proxy = await startJsonRpcProxy(targetUrl, ({ selector }) => {
    if (!rpc.slow || !AUTHORIZATION_SELECTORS.has(selector)) return 0
    rpc.held++
    return HOLD_MS
  })
  rpc.url = proxy.url
  rpc.close = proxy.close
  return rpc
}

let chain: DevChain

beforeAll(async () => {
  chain = await startDevChain()
})

afterAll(() => chain?.stop())

/** Derives one after another for LOOP_MS with a slow chain; returns each derive's duration. */
async function derivesAcrossExpiries(start: (rpcUrl: string) => Promise<TestNode>): Promise<{ durations: number[]; held: number }> {
  const rpc = await startSlowRpc(chain.rpcUrl)
  const node = await start(rpc.url)
  try {
    await registerKmsNode(chain, node)
    await tickUntil(node, (status) => status.node.service_available)
    const app = await registerTestApp(chain)
    const client = await app.client(node)
    for (let index = 0; index < 5; index++) await client.derive({ path: 'warm' }) // entries cached
    rpc.slow = true
    const durations: number[] = []
    const started = Date.now()
    while (Date.now() - started < LOOP_MS) {
      const sent = performance.now()
      await client.derive({ path: 'refresh-ahead' })
      durations.push(performance.now() - sent)
    }
    return { durations, held: rpc.held }
  } finally {
    await node.stop()
    await rpc.close()
  }
}

describe('registry refresh ahead', () => {
  it('behavior: under Node no derive waits on a registry read, though the chain is slow and every entry expires twice', async () => {
    expect(NODE_REFRESH_AHEAD_SECONDS * 1000).toBeGreaterThan(HOLD_MS)
    const { durations, held } = await derivesAcrossExpiries((rpcUrl) => startProcessNode(chain, { MASTER_SECRET_HEX, NODE_URL: rpcUrl, KMS_NODE_TICK_SECONDS: '1' }))
    // The entries were reloaded (each held), at least twice each for instance, app and version.
    expect(held).toBeGreaterThanOrEqual(6)
    const waited = durations.filter((ms) => ms >= HOLD_MS)
    expect(waited, `${durations.length} derives, longest ${Math.max(...durations).toFixed(0)} ms`).toEqual([])
  })

  it('behavior: in workerd (no background work) the derive at expiry waits for the read: the control', async () => {
    const { durations, held } = await derivesAcrossExpiries((rpcUrl) => startMiniflareNode(chain, { MASTER_SECRET_HEX, NODE_URL: rpcUrl }))
    expect(held).toBeGreaterThanOrEqual(6)
    expect(durations.filter((ms) => ms >= HOLD_MS).length).toBeGreaterThanOrEqual(2)
  })
})
