/**
 * Clock skew between node processes (issue 14; PROTOCOL §6.7, §6.8; RUNTIME.md §3: the host
 * feeds the clock and can skew it). Three `node dist/kms.mjs` processes; node X runs with
 * test/helpers/skewClock.mjs preloaded (`node --import`), which shifts the Date.now() the node
 * reads by an offset the test sets over IPC. No product code changes: the preload exists only
 * in the test's command line. MAX_CLOCK_SKEW_MS is 4000 on every node.
 *
 * Asserted, as PROTOCOL says:
 * - X 2 s ahead (within MAX_CLOCK_SKEW_MS): a write on X, stamped 2 s in the future of the
 *   others, is accepted by both peers with X's timestamp (§6.7 accepts up to now + skew);
 * - X 14 s ahead (beyond): a write on X is refused by both peers as §6.7 says: X's pushes to
 *   them are answered 200 (counted `ok` in X's /metrics) and the record is not stored;
 * - X's clock is moved back: the refused write is not lost (§6.7, §6.8 step 6: X pushes it
 *   again at every tick until the peers' clocks are within the bound) and reaches both peers
 *   with its timestamp; a write made once X's clock has caught up reaches them too.
 *
 * - a write acknowledged by X right after its clock stepped back by 14 s reaches both peers
 *   too (`unreplicated_after_step_back` = 0). It is stamped below the scan window of §6.8, so
 *   only the journaling of local writes as they are made (PeerWatermarks.wroteLocally) and a
 *   tick schedule that runs again at once when the clock goes back carry it; before both, it
 *   stayed on X alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../bundle/processes'
import type { KmsClient } from '../../core/client'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { boundedClient, metricValue, outcomeOf, printSummary, SKEW_CLOCK_PRELOAD, sleep, startFaultNode, Tally, type FaultNode } from '../helpers/faults'
import { registerKmsNode, registerTestApp, type TestApp } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '7c'.repeat(32)
const MAX_CLOCK_SKEW_MS = 4000
const WITHIN_MS = 2000
const BEYOND_MS = 14_000
const SKEW_ENV = { MAX_CLOCK_SKEW_MS: String(MAX_CLOCK_SKEW_MS), PEER_CACHE_TTL_SECONDS: '30' }

let chain: DevChain
let app: TestApp
let x: FaultNode
const peers: FaultNode[] = []
let clients: { x: KmsClient; peers: KmsClient[] }

async function setOffset(offsetMs: number): Promise<void> {
  const answer = (await x.send({ type: 'clock-offset', offsetMs })) as { offsetMs: number }
  expect(answer.offsetMs).toBe(offsetMs)
}

/** Waits until every peer reads `key`; returns what they read, or undefined on timeout. */
async function readOnPeers(key: string, timeoutMs: number): Promise<{ updatedAtMs: number }[] | undefined> {
  return waitUntil(`${key} on every peer`, async () => {
    const reads = await Promise.all(clients.peers.map((client) => outcomeOf(() => client.getData(key))))
    return reads.every((read) => read.kind === 'ok') ? reads.map((read) => (read as { value: { updatedAtMs: number } }).value) : undefined
  }, { timeoutMs, intervalMs: 500 }).catch(() => undefined)
}

async function okPushesFromX(): Promise<number> {
  const text = await (await x.fetch('/metrics')).text()
  let total = 0
  for (const peer of peers) total += metricValue(text, 'nova_kms_sync_push_total', { peer: (await peer.status()).node.tee_wallet, result: 'ok' })
  return total
}

beforeAll(async () => {
  chain = await startDevChain()
  peers.push(await startFaultNode(chain, { ...SKEW_ENV, MASTER_SECRET_HEX }))
  await registerKmsNode(chain, peers[0]!)
  await waitUntil('node Y available', async () => (await peers[0]!.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  x = await startFaultNode(chain, SKEW_ENV, { nodeArgs: ['--import', SKEW_CLOCK_PRELOAD], ipc: true })
  await registerKmsNode(chain, x)
  peers.push(await startFaultNode(chain, SKEW_ENV))
  await registerKmsNode(chain, peers[1]!)
  for (const node of [x, ...peers]) await waitUntil(`${node.url} available`, async () => (await node.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  app = await registerTestApp(chain)
  clients = { x: await boundedClient(app, x), peers: await Promise.all(peers.map((peer) => boundedClient(app, peer))) }
}, 240_000)

afterAll(async () => {
  await x?.stop()
  for (const node of peers) await node.stop()
  await chain?.stop()
})

describe('clock skew between node processes', () => {
  it('behavior: within MAX_CLOCK_SKEW_MS a write is accepted; beyond it the peers refuse it (§6.7) and take it once within the bound; after the clock is moved back writes flow again', async () => {
    const tally = new Tally()
    const put = async (key: string): Promise<number> => {
      const outcome = await outcomeOf(() => clients.x.putData(key, new TextEncoder().encode(key)))
      tally.note(outcome.kind === 'ok' ? 'ok' : 'other', JSON.stringify(outcome).slice(0, 200))
      expect(outcome.kind, `put ${key} on X`).toBe('ok')
      return (outcome as { value: { updatedAtMs: number } }).value.updatedAtMs
    }

    // Sanity: with no skew a write on X reaches both peers.
    await put('no-skew')
    const noSkew = await readOnPeers('no-skew', 30_000)
    expect(noSkew, 'no-skew on both peers').toBeDefined()

    // Within the bound: 2 s ahead. The record carries X's time, in the peers' future.
    await setOffset(WITHIN_MS)
    const withinAt = await put('within')
    expect(withinAt - Date.now(), 'the write is stamped in the future of real time').toBeGreaterThan(WITHIN_MS / 2)
    const within = await readOnPeers('within', 30_000)
    expect(within, 'a record 2 s in the future is accepted (§6.7 allows MAX_CLOCK_SKEW_MS)').toBeDefined()
    for (const read of within!) expect(read.updatedAtMs).toBe(withinAt)

    // Beyond the bound: 14 s ahead, 10 s past it, so the refusal stays observable on a slow
    // machine. X pushes the record, the peers answer 200 and drop it.
    await setOffset(BEYOND_MS)
    // Let the push of anything written before settle, so the next counted push carries the write.
    await sleep(2500)
    const pushesBefore = await okPushesFromX()
    const beyondAt = await put('beyond')
    expect(beyondAt - Date.now()).toBeGreaterThan(BEYOND_MS - 2000)
    // A push with records is counted (an empty one is not): one each, answered 200, carried it.
    await waitUntil('a successful push from X to each peer after the write', async () => (await okPushesFromX()) >= pushesBefore + peers.length, { timeoutMs: 30_000, intervalMs: 250 })
    const refused = await Promise.all(clients.peers.map((client) => outcomeOf(() => client.getData('beyond'))))
    for (const read of refused) {
      expect(read, 'a record 14 s in the future is refused by the peer').toMatchObject({ kind: 'refused', status: 404 })
      tally.note('correct')
    }

    // X's clock is moved back. Its tick schedule runs on the same clock, so its ticks wait
    // until the clock has passed the last tick's time again (about BEYOND_MS); then writes
    // made from then on reach the peers.
    await setOffset(0)
    const backAt = Date.now()
    await put('right-after-move-back')
    await sleep(BEYOND_MS + 2000)
    await put('after-move-back')
    const after = await readOnPeers('after-move-back', 30_000)
    expect(after, 'a write made once the moved-back clock has caught up reaches both peers').toBeDefined()

    // The write refused at +14 s: its timestamp is in the past on every node by now, and X
    // has pushed it again at every tick since (§6.8 step 6).
    const late = await readOnPeers('beyond', 30_000)
    // The write made right after the step back, stamped below the scan window (see the header).
    const rightAfter = await readOnPeers('right-after-move-back', 30_000)
    printSummary('clock-skew', {
      cases: tally.cases,
      ok: tally.ok,
      correct_refusals: tally.correctRefusals,
      '5xx': tally.unexpected5xx,
      acked_writes_lost: [noSkew, within, after, late, rightAfter].filter((reads) => reads === undefined).length,
      max_clock_skew_ms: MAX_CLOCK_SKEW_MS,
      within_accepted: within !== undefined,
      beyond_refused: refused.every((read) => read.kind === 'refused' && read.status === 404),
      after_catch_up_converged: after !== undefined,
      refused_write_converged: late !== undefined,
      unreplicated_after_step_back: rightAfter === undefined ? 1 : 0,
      seconds_since_step_back: ((Date.now() - backAt) / 1000).toFixed(1),
    })
    expect(late, 'the refused write reaches both peers once their clocks are within the bound (§6.7)').toBeDefined()
    expect(rightAfter, 'a write made right after the clock stepped back reaches both peers (§6.8)').toBeDefined()
    for (const read of late!) expect(read.updatedAtMs).toBe(beyondAt)
    expect(tally.unexpected5xx).toBe(0)
  })
})
