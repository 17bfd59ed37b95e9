/**
 * Records the `/metrics` scrapes that test/prometheus/alerts.test.ts feeds to promtool: a real
 * 3-node cluster (`node dist/kms.mjs` ×3 on anvil with the real contracts, as the fault suites
 * start it), app traffic on every node, and node 1 scraped twice, SCRAPE_INTERVAL_MS apart:
 *
 * - `scrape-healthy-{1,2}.prom`: the cluster serving normally;
 * - `scrape-faulty-{1,2}.prom`: across the same interval an app sends node 1 garbage
 *   `X-Nitro-Attestation` documents, then the chain (anvil) is stopped, so every registry read
 *   fails and the node stops serving while the app keeps calling it (503s).
 *
 * Each file is the node's answer byte for byte. Run it after `npm run --silent build`:
 *   npx tsx test/prometheus/record-scrapes.ts
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { KmsClient } from '../../core/client'
import { waitUntil } from '../../bundle/processes'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { boundedClient, outcomeOf, sleep, startFaultNode, type FaultNode } from '../helpers/faults'
import { registerKmsNode, registerTestApp } from '../helpers/kmsNodes'

const OUTPUT_DIRECTORY = fileURLToPath(new URL('./', import.meta.url))
const NODE_COUNT = 3
/** One Prometheus scrape interval apart; alerts.test.ts uses the same figure. */
const SCRAPE_INTERVAL_MS = 60_000
/** Part of the faulty interval spent on broken attestation documents, before the chain stops. */
const ATTESTATION_PHASE_MS = 15_000
/**
 * Ticks much faster than production's 60 s/10 s, so that the node notices the dead chain well
 * within one interval; the peer cache TTL must exceed the tick (PROTOCOL §7.2). The client
 * limits stay raised as startFaultNode's FAULT_ENV sets them: all traffic comes from one
 * loopback client, and a healthy recording must not count refusals.
 */
const NODE_ENV: Readonly<Record<string, string>> = {
  KMS_NODE_TICK_SECONDS: '2',
  DATA_SYNC_INTERVAL_SECONDS: '2',
  PEER_CACHE_TTL_SECONDS: '6',
}

/** Scrapes node 1 and writes the body unchanged. */
async function recordScrape(node: FaultNode, fileName: string): Promise<void> {
  const response = await node.fetch('/metrics')
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`)
  writeFileSync(`${OUTPUT_DIRECTORY}${fileName}`, await response.text())
  console.log(`wrote test/prometheus/${fileName}`)
}

/** Puts, reads back, lists and derives through `client` until `until` (a `performance.now()` time). */
async function driveAppTraffic(client: KmsClient, until: number, label: string): Promise<{ ok: number; refused: number }> {
  const tally = { ok: 0, refused: 0 }
  for (let index = 0; performance.now() < until; index++) {
    const key = `${label}-${index % 40}`
    const calls = [
      () => client.putData(key, new TextEncoder().encode(`value ${index}`)),
      () => client.getData(key),
      () => client.listData(),
      () => client.derive({ path: `metrics/${index % 8}` }),
    ]
    for (const call of calls) {
      const outcome = await outcomeOf(call)
      if (outcome.kind === 'ok') tally.ok++
      else {
        tally.refused++
        // A refused client backs off, as a real one would; no busy loop against a dead node.
        await sleep(200)
      }
    }
    await sleep(100)
  }
  return tally
}

/** App requests whose `X-Nitro-Attestation` is not a COSE document: each is one rejected app document. */
async function sendBrokenAttestations(node: FaultNode, until: number): Promise<number> {
  let sent = 0
  while (performance.now() < until) {
    const response = await node.fetch('/kms/derive', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-nitro-attestation': 'bm90IGEgZG9jdW1lbnQ=' },
      body: '{"path":"metrics"}',
    })
    await response.arrayBuffer()
    sent++
    await sleep(250)
  }
  return sent
}

async function startCluster(chain: DevChain): Promise<FaultNode[]> {
  const nodes: FaultNode[] = []
  for (let index = 0; index < NODE_COUNT; index++) {
    const node = await startFaultNode(chain, NODE_ENV)
    nodes.push(node)
    await registerKmsNode(chain, node)
    // Node 1 generates the secret; the others take it from a peer once it is committed.
    await waitUntil(`node ${index + 1} available`, async () => (await node.status()).node.service_available, { timeoutMs: 90_000, intervalMs: 250 })
  }
  return nodes
}

async function main(): Promise<void> {
  const chain = await startDevChain()
  let chainStopped = false
  const nodes: FaultNode[] = []
  try {
    nodes.push(...(await startCluster(chain)))
    const app = await registerTestApp(chain)
    const clients = await Promise.all(nodes.map((node) => boundedClient(app, node, 10_000)))
    const scraped = nodes[0]!
    // Warm-up: every node has taken writes and pushed them before the first scrape.
    await Promise.all(clients.map((client, index) => driveAppTraffic(client, performance.now() + 5_000, `warm${index}`)))

    await recordScrape(scraped, 'scrape-healthy-1.prom')
    const healthyUntil = performance.now() + SCRAPE_INTERVAL_MS
    const healthy = await Promise.all(clients.map((client, index) => driveAppTraffic(client, healthyUntil, `healthy${index}`)))
    await recordScrape(scraped, 'scrape-healthy-2.prom')
    console.log(`healthy interval: ${JSON.stringify(healthy)}`)

    await recordScrape(scraped, 'scrape-faulty-1.prom')
    const faultyStart = performance.now()
    const faultyUntil = faultyStart + SCRAPE_INTERVAL_MS
    const traffic = driveAppTraffic(clients[0]!, faultyUntil, 'faulty')
    const brokenAttestations = await sendBrokenAttestations(scraped, faultyStart + ATTESTATION_PHASE_MS)
    await chain.stop()
    chainStopped = true
    await waitUntil('node 1 to stop serving without its chain', async () => !(await scraped.status()).node.service_available, { timeoutMs: 30_000, intervalMs: 250 })
    const faulty = await traffic
    const remaining = faultyUntil - performance.now()
    if (remaining > 0) await sleep(remaining)
    await recordScrape(scraped, 'scrape-faulty-2.prom')
    console.log(`faulty interval: ${JSON.stringify(faulty)}, broken attestation documents: ${brokenAttestations}, node 1: ${(await scraped.status()).node.unavailable_reason}`)
  } finally {
    for (const node of nodes) await node.stop()
    if (!chainStopped) await chain.stop()
  }
}

await main()
