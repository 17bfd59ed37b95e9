/**
 * A node dies mid-snapshot (issue 14; PROTOCOL §4.3 pages, §6.9, §7.1 step 7.4): a joiner
 * takes the master secret from node A and starts pulling A's paginated snapshot; A is
 * SIGKILLed (by PID) during the transfer, after a few pages. The joiner must go on with the
 * other peer, B, pull its whole snapshot, and end with every key.
 *
 * Pages are made small and many: MAX_SYNC_PAYLOAD_BYTES = 128 KiB on every node gives a page
 * budget of 61,440 bytes of `data` (§4.3: max(1024, 128 KiB / 2 − 4096), below the 64 KiB
 * floor, so the answering node's own budget wins), about 7 records of 4 KiB values, so 210
 * keys are about 30 pages. No node pushes deltas here (DATA_SYNC_INTERVAL_SECONDS = 3600), so
 * the joiner can only get the keys through a snapshot.
 *
 * Every node is registered under a proxy the test controls, which counts the joiner's /sync
 * requests (the first to A is its master_secret_request, then one per page) and kills A when
 * the joiner asks for page KILL_AT_PAGE.
 */
import { createServer, request as httpRequest, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../bundle/processes'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { boundedClient, outcomeOf, printSummary, startFaultNode, Tally, type FaultNode } from '../helpers/faults'
import { registerKmsNode, registerTestApp, type TestApp } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '6d'.repeat(32)
const KEYS = 210
const VALUE_BYTES = 4096
const KILL_AT_PAGE = 4
const SNAPSHOT_ENV = { DATA_SYNC_INTERVAL_SECONDS: '3600', MAX_SYNC_PAYLOAD_BYTES: String(128 * 1024), PEER_CACHE_TTL_SECONDS: '30' }

/** A loopback HTTP proxy in front of one node that counts /sync per sender and can kill the node. */
interface KillSwitchProxy {
  url: string
  /** POST /sync requests forwarded, by `x-kms-wallet`. */
  readonly forwarded: Map<string, number>
  /** Kill `node` when `wallet` sends its `atRequest`-th /sync (1-based). */
  killOn?: { wallet: Wallet; atRequest: number; node: FaultNode }
  killed: boolean
  close(): Promise<void>
}

async function startKillSwitchProxy(targetUrl: string): Promise<KillSwitchProxy> {
  const target = new URL(targetUrl)
  const seen = new Map<string, number>()
  const proxy: KillSwitchProxy = { url: '', forwarded: new Map(), killed: false, close: async () => undefined }
  const server: Server = createServer((incoming, outgoing) => {
    const sender = String(incoming.headers['x-kms-wallet'] ?? '').toLowerCase()
    const isSync = incoming.method === 'POST' && (incoming.url ?? '').startsWith('/sync')
    const forward = (): void => {
      if (isSync) proxy.forwarded.set(sender, (proxy.forwarded.get(sender) ?? 0) + 1)
      const forwarded = httpRequest({ host: target.hostname, port: target.port, path: incoming.url, method: incoming.method, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(outgoing)
      })
      forwarded.on('error', () => outgoing.destroy())
      incoming.pipe(forwarded)
    }
    if (!isSync || proxy.killOn === undefined || sender !== proxy.killOn.wallet.toLowerCase()) return forward()
    const count = (seen.get(sender) ?? 0) + 1
    seen.set(sender, count)
    if (count < proxy.killOn.atRequest || proxy.killed) return forward()
    // The node dies with this page request in flight: SIGKILL, then the connection drops.
    proxy.killed = true
    void proxy.killOn.node.kill().then(() => incoming.socket.destroy())
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  proxy.url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return proxy
}

let chain: DevChain
let app: TestApp
const nodes: FaultNode[] = []
const proxies: KillSwitchProxy[] = []

async function addNode(overrides: Record<string, string> = {}): Promise<{ node: FaultNode; proxy: KillSwitchProxy }> {
  const node = await startFaultNode(chain, { ...SNAPSHOT_ENV, ...overrides })
  nodes.push(node)
  const proxy = await startKillSwitchProxy(node.url)
  proxies.push(proxy)
  return { node, proxy }
}

const valueOf = (index: number): Uint8Array => {
  const value = new Uint8Array(VALUE_BYTES)
  for (let offset = 0; offset < VALUE_BYTES; offset++) value[offset] = (index * 31 + offset) & 0xff
  return value
}
const keyOf = (index: number): string => `snap-${String(index).padStart(4, '0')}`

beforeAll(async () => {
  chain = await startDevChain()
  app = await registerTestApp(chain)
}, 240_000)

afterAll(async () => {
  for (const node of nodes) await node.stop()
  for (const proxy of proxies) await proxy.close()
  await chain?.stop()
})

describe('a node dies mid-snapshot', () => {
  it('behavior: the joiner retries the snapshot with another peer and ends with every key', async () => {
    const tally = new Tally()
    // A: the first registered, so joiners ask it first (registry order, §7.1 step 7).
    const a = await addNode({ MASTER_SECRET_HEX })
    await registerKmsNode(chain, a.node, { instanceUrl: a.proxy.url })
    await waitUntil('node A available', async () => (await a.node.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
    const writer = await boundedClient(app, a.node)
    let next = 0
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let index = next++; index < KEYS; index = next++) {
          const outcome = await outcomeOf(() => writer.putData(keyOf(index), valueOf(index)))
          tally.note(outcome.kind === 'ok' ? 'ok' : 'other', JSON.stringify(outcome).slice(0, 200))
        }
      }),
    )
    expect(tally.samples, 'writes to A').toEqual([])

    // B joins from A and holds every key, by A's snapshot.
    const b = await addNode()
    await registerKmsNode(chain, b.node, { instanceUrl: b.proxy.url })
    await waitUntil('node B available with every key', async () => {
      const status = await b.node.status()
      return status.node.service_available && status.data_store.total_keys === KEYS
    }, { timeoutMs: 90_000, intervalMs: 250 })

    // C joins: secret from A, then A's snapshot, and A dies when C asks for page KILL_AT_PAGE.
    const c = await addNode()
    const joiner = (await c.node.status()).node.tee_wallet
    a.proxy.killOn = { wallet: joiner, atRequest: 1 + KILL_AT_PAGE, node: a.node }
    await registerKmsNode(chain, c.node, { instanceUrl: c.proxy.url })
    const status = await waitUntil('node C available', async () => {
      const current = await c.node.status()
      return current.node.service_available ? current : undefined
    }, { timeoutMs: 120_000, intervalMs: 250 })

    const pagesFromA = (a.proxy.forwarded.get(joiner.toLowerCase()) ?? 0) - 1
    const pagesFromB = b.proxy.forwarded.get(joiner.toLowerCase()) ?? 0
    const failedPulls = c.node.stderrLines.filter((line) => line.includes('snapshot pull failed') && line.includes(a.proxy.url))

    // C lists every key, and reads each with its value.
    const reader = await boundedClient(app, c.node)
    const listed = new Set(await reader.listData())
    const missing: string[] = []
    for (let start = 0; start < KEYS; start += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, KEYS - start) }, async (_, offset) => {
          const index = start + offset
          const read = await outcomeOf(() => reader.getData(keyOf(index)))
          const ok = read.kind === 'ok' && bytesToHex((read.value as { value: Uint8Array }).value) === bytesToHex(valueOf(index))
          tally.note(ok ? 'ok' : read.kind === 'refused' && read.status >= 500 ? '5xx' : 'other', `read ${keyOf(index)}: ${JSON.stringify(read).slice(0, 120)}`)
          if (!ok || !listed.has(keyOf(index))) missing.push(keyOf(index))
        }),
      )
    }
    printSummary('node-dies-mid-snapshot', {
      cases: tally.cases,
      ok: tally.ok,
      correct_refusals: tally.correctRefusals,
      '5xx': tally.unexpected5xx,
      acked_writes: KEYS,
      acked_writes_lost: missing.length,
      killed: a.proxy.killed,
      a_exit_signal: String(a.node.child.signalCode),
      pages_from_a_before_kill: pagesFromA,
      pages_from_b: pagesFromB,
      joiner_keys: status.data_store.total_keys,
      secret_from: JSON.stringify(status.node.master_secret.synced_from),
    })

    expect(a.proxy.killed, 'A was killed during the transfer').toBe(true)
    expect(a.node.child.signalCode).toBe('SIGKILL')
    expect(status.node.master_secret).toEqual({ state: 'synced', synced_from: a.proxy.url })
    expect(pagesFromA, 'pages A served before it died').toBe(KILL_AT_PAGE - 1)
    expect(failedPulls.length, "C's log names the failed pull from A").toBeGreaterThanOrEqual(1)
    expect(pagesFromB, 'a whole snapshot of many pages from B').toBeGreaterThanOrEqual(10)
    expect(status.data_store.total_keys).toBe(KEYS)
    expect(missing, 'keys missing or wrong on the joiner').toEqual([])
    expect(tally.unexpected5xx).toBe(0)
  })
})
