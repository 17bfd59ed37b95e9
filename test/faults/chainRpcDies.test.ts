/**
 * The chain RPC dies (issue 14; PROTOCOL §3.3, §4.2 step 1a, §7.1, §7.3, §7.4): three
 * `node dist/kms.mjs` processes whose `NODE_URL` is a TCP proxy in front of anvil. Traffic
 * (put, get, delete, derive, list) flows to all three while the test cuts the proxy, so the
 * nodes see a dead RPC and the chain keeps its state, then restores it.
 *
 * What must hold, and is asserted:
 * - during the cut every node turns unavailable with the §7.3 reason `cannot read master
 *   secret hash` (its peer cache is stale but not empty, so step 2 goes on and step 5 fails),
 *   and refuses `/sync` with 503 `registry unreadable` once its peer cache is older than
 *   PEER_CACHE_TTL_SECONDS (fail closed);
 * - an app request is then refused only with the PROTOCOL's own 503s (below); any other 5xx
 *   counts as a 5xx;
 * - once the RPC is back every node becomes available again by itself;
 * - every acknowledged write (put or delete), before, during or after the cut, ends up on
 *   every node.
 *
 * Correct refusals, exactly: 503 `registry_unavailable` `Registry unavailable` (§3.3 step 5:
 * no registry answer younger than 10 s), and 503 `service_unavailable` whose message is the
 * §7.3 reason `cannot read master secret hash` or `peer cache refresh failed` (the readiness
 * gate), each only between the cut and the moment every node is seen available again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { KmsClient } from '../../core/client'
import { waitUntil } from '../../bundle/processes'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { boundedClient, metricValue, outcomeOf, printSummary, sleep, startFaultNode, startTcpProxy, Tally, type FaultNode, type Outcome, type TcpProxy } from '../helpers/faults'
import { registerKmsNode, registerTestApp, type TestApp } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '4d'.repeat(32)
const CHAIN_REASONS = new Set(['cannot read master secret hash', 'peer cache refresh failed'])

let chain: DevChain
let rpc: TcpProxy
let app: TestApp
const nodes: FaultNode[] = []

beforeAll(async () => {
  chain = await startDevChain()
  rpc = await startTcpProxy(Number(new URL(chain.rpcUrl).port))
  const env = { NODE_URL: rpc.url }
  nodes.push(await startFaultNode(chain, { ...env, MASTER_SECRET_HEX }))
  await registerKmsNode(chain, nodes[0]!)
  await waitUntil('node 1 available', async () => (await nodes[0]!.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  for (let index = 1; index < 3; index++) {
    const node = await startFaultNode(chain, env)
    nodes.push(node)
    await registerKmsNode(chain, node)
  }
  for (const [index, node] of nodes.entries()) {
    await waitUntil(`node ${index + 1} available`, async () => (await node.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  }
  app = await registerTestApp(chain)
}, 240_000)

afterAll(async () => {
  for (const node of nodes) await node.stop()
  await rpc?.close()
  await chain?.stop()
})

/** `/sync` with no headers at all: 503 `registry unreadable` before any auth once the cache is stale. */
async function bareSync(node: FaultNode): Promise<[number, unknown]> {
  const response = await node.fetch('/sync', { method: 'POST', body: '{}' })
  return [response.status, await response.json()]
}

describe('the chain RPC dies mid-run and comes back', () => {
  it('behavior: nodes fail closed with the §7.3 reason and a 503 /sync, recover by themselves, and lose no acknowledged write', async () => {
    const tally = new Tally()
    const clients: KmsClient[] = await Promise.all(nodes.map((node) => boundedClient(app, node)))
    /** Acknowledged puts: key → value (hex) and the node that took it; acknowledged deletes. */
    const puts = new Map<string, string>()
    const deleted = new Set<string>()
    const window = { cutAt: Number.POSITIVE_INFINITY, recoveredAt: Number.POSITIVE_INFINITY }
    let sequence = 0
    let running = true
    /** Correct refusals by message. */
    const refusals = new Map<string, number>()

    const classify = async (outcome: Outcome, startedAt: number, endedAt: number, what: string): Promise<boolean> => {
      if (outcome.kind === 'ok') {
        tally.note('ok')
        return true
      }
      const inFault = endedAt >= window.cutAt && startedAt <= window.recoveredAt
      if (outcome.kind === 'refused') {
        const correct =
          inFault &&
          outcome.status === 503 &&
          ((outcome.code === 'registry_unavailable' && outcome.message === 'Registry unavailable') || (outcome.code === 'service_unavailable' && CHAIN_REASONS.has(outcome.message)))
        tally.note(correct ? 'correct' : outcome.status >= 500 ? '5xx' : 'other', `${what}: ${outcome.status} ${outcome.code} ${outcome.message}`)
        if (correct) refusals.set(outcome.message, (refusals.get(outcome.message) ?? 0) + 1)
      } else tally.note('other', `${what}: ${outcome.message}`)
      // A refused request is retried after a pause, as a client would; no busy loop.
      await sleep(25)
      return false
    }

    /** One worker: writes, reads back, deletes and derives on the nodes in turn. */
    const worker = async (id: number): Promise<void> => {
      while (running) {
        const index = sequence++
        const node = index % nodes.length
        const client = clients[node]!
        const key = `w${id}-${index}`
        const value = bytesToHex(new TextEncoder().encode(`value ${index}`))
        const startedAt = performance.now()
        const op = index % 5
        if (op === 4) {
          // Delete a key this worker wrote before and that is still live.
          const victim = [...puts.keys()].find((candidate) => candidate.startsWith(`w${id}-`) && !deleted.has(candidate))
          if (victim === undefined) continue
          const outcome = await outcomeOf(() => clients[Number(victim.split('-')[1]) % nodes.length]!.deleteData(victim))
          if (await classify(outcome, startedAt, performance.now(), `delete ${victim}`)) deleted.add(victim)
        } else if (op === 3) {
          await classify(await outcomeOf(() => client.derive({ path: `fault/${index}` })), startedAt, performance.now(), 'derive')
        } else if (op === 2) {
          await classify(await outcomeOf(() => client.listData()), startedAt, performance.now(), 'list')
        } else {
          const outcome = await outcomeOf(() => client.putData(key, new TextEncoder().encode(`value ${index}`)))
          if (await classify(outcome, startedAt, performance.now(), `put ${key}`)) {
            puts.set(key, value)
            // Read it back on the node that took it.
            const readAt = performance.now()
            await classify(await outcomeOf(() => client.getData(key)), readAt, performance.now(), `get ${key}`)
          }
        }
      }
    }
    const workers = [worker(0), worker(1)]

    try {
      await sleep(4000)
      const acknowledgedBefore = puts.size
      expect(acknowledgedBefore, 'writes acknowledged before the cut').toBeGreaterThan(0)

      // The RPC dies.
      const readFailures = async (node: FaultNode): Promise<number> => {
        const text = await (await node.fetch('/metrics')).text()
        return metricValue(text, 'nova_kms_registry_read_failures_total', { registry: 'kms_registry' })
      }
      const failuresBeforeCut = await Promise.all(nodes.map(readFailures))
      window.cutAt = performance.now()
      await rpc.cut()
      for (const [index, node] of nodes.entries()) {
        const status = await waitUntil(`node ${index + 1} unavailable during the cut`, async () => {
          const current = await node.status()
          return current.node.service_available ? undefined : current
        }, { timeoutMs: 60_000, intervalMs: 250 })
        expect(status.node.unavailable_reason, `node ${index + 1}'s reason`).toBe('cannot read master secret hash')
        const [code, body] = await waitUntil(`node ${index + 1} refuses /sync on a stale peer cache`, async () => {
          const answer = await bareSync(node)
          return answer[0] === 503 ? answer : undefined
        }, { timeoutMs: 30_000, intervalMs: 250 })
        expect([code, body]).toEqual([503, { code: 'service_unavailable', message: 'registry unreadable' }])
        // §2.8: the failed reads are visible to the operator, not only their consequence.
        expect(await readFailures(node), `node ${index + 1}'s registry read failures`).toBeGreaterThan(failuresBeforeCut[index]!)
      }
      const refusalsDuringCut = tally.correctRefusals
      expect(refusalsDuringCut, 'app requests refused while the chain was cut').toBeGreaterThan(0)

      // The RPC comes back: the nodes recover on their own ticks.
      await rpc.restore()
      for (const [index, node] of nodes.entries()) {
        await waitUntil(`node ${index + 1} available again after the RPC is back`, async () => {
          const current = await node.status()
          return current.node.service_available && current.node.unavailable_reason === ''
        }, { timeoutMs: 60_000, intervalMs: 250 })
      }
      window.recoveredAt = performance.now()
      for (const node of nodes) expect((await bareSync(node))[0], '/sync is answered again (no headers: 403)').toBe(403)
      const okBeforeAfter = tally.ok
      await sleep(4000)
      expect(tally.ok, 'requests served after recovery').toBeGreaterThan(okBeforeAfter)
    } finally {
      running = false
      await Promise.all(workers)
    }

    // Every acknowledged write is on every node (bounded wait for the last sync rounds).
    const expected = [...puts.entries()].filter(([key]) => !deleted.has(key))
    const missing = async (): Promise<string[]> => {
      const gaps: string[] = []
      for (const [index, client] of clients.entries()) {
        const listed = new Set(await client.listData())
        for (const [key] of expected) if (!listed.has(key)) gaps.push(`node ${index + 1} lacks ${key}`)
        for (const key of deleted) if (listed.has(key)) gaps.push(`node ${index + 1} still has deleted ${key}`)
      }
      return gaps
    }
    let gaps = await missing()
    const deadline = performance.now() + 30_000
    while (gaps.length > 0 && performance.now() < deadline) {
      await sleep(1000)
      gaps = await missing()
    }
    // …with the acknowledged value.
    for (const [index, client] of clients.entries()) {
      for (let start = 0; start < expected.length; start += 8) {
        await Promise.all(
          expected.slice(start, start + 8).map(async ([key, value]) => {
            const read = await outcomeOf(() => client.getData(key))
            if (read.kind !== 'ok' || bytesToHex((read.value as { value: Uint8Array }).value) !== value) gaps.push(`node ${index + 1} reads ${key} wrong: ${JSON.stringify(read).slice(0, 120)}`)
          }),
        )
      }
    }
    const lost = new Set(gaps.map((gap) => gap.split(' ').slice(-1)[0])).size
    printSummary('chain-rpc-dies', {
      cases: tally.cases,
      ok: tally.ok,
      correct_refusals: tally.correctRefusals,
      refused_registry_unavailable: refusals.get('Registry unavailable') ?? 0,
      refused_not_ready: [...refusals].filter(([message]) => CHAIN_REASONS.has(message)).reduce((sum, [, count]) => sum + count, 0),
      '5xx': tally.unexpected5xx,
      other_failures: tally.otherFailures,
      acked_puts: puts.size,
      acked_deletes: deleted.size,
      acked_writes_lost: lost,
      unavailable_reason: JSON.stringify('cannot read master secret hash'),
      sync_refusal: JSON.stringify('503 registry unreadable'),
    })
    expect(gaps, 'acknowledged writes missing or wrong on some node').toEqual([])
    expect(tally.samples.filter((sample) => !sample.startsWith('correct')), 'failures other than the correct refusals').toEqual([])
    expect(tally.unexpected5xx).toBe(0)
    expect(tally.otherFailures).toBe(0)
  })
})
