/**
 * A peer hangs (issue 14; PROTOCOL §4.1 timeouts, §6.8, §7.4): two `node dist/kms.mjs`
 * processes on anvil, and two test doubles that the registry lists as KMS instances like
 * real nodes: one accepts connections and never answers a byte, the other answers `/nonce`
 * and then trickles its `/sync` answer one byte a second, forever. Every sync_tick of both
 * nodes pushes to both doubles.
 *
 * What must hold, and is asserted:
 * - the two real nodes keep replicating to each other: writes on each reach the other,
 *   several times over, while the doubles hang (each push to a double ends at its §4.1
 *   deadline: nonce 5 s, delta 15 s, and the tick waits for it, so a round takes ~15 s);
 * - the nodes abandon the doubles: pushes to them are counted as failed, and the doubles see
 *   their connections closed by the nodes, never more than a few open at once;
 * - requests to the nodes (derive, put, get, list) keep completing during the hang; any
 *   failure or 5xx counts (there is no correct refusal here: the nodes are healthy);
 * - memory and handles stay bounded: each node's peak resident set (VmHWM) stays under
 *   RSS_BOUND, and its open file descriptors under FD_GROWTH_BOUND above where they started.
 *
 * FAULT_ENV's peer cache goes stale 3 s after its last refresh, far less than one push to a
 * hanging double (nonce 5 s + delta 15 s): so node_tick must keep refreshing it while a
 * sync_tick waits on a double (46b2302), or /sync would refuse the real peer too (503
 * `registry unreadable`) and replication between the real nodes would stop.
 */
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../bundle/processes'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { boundedClient, metricValue, openFdCount, outcomeOf, printSummary, procStatusBytes, sleep, startFaultNode, Tally, type FaultNode } from '../helpers/faults'
import { startHangingPeer, type HangingPeer } from '../helpers/hangingPeers'
import { cryptoRandom, registerKmsNode, registerTestApp, type TestApp } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '5a'.repeat(32)
const MB = 1_000_000
/** A node at rest is about 100–130 MB resident; a hang must not grow it far. */
const RSS_BOUND = 300 * MB
/** Sockets to hanging peers that were never closed would show here. */
const FD_GROWTH_BOUND = 40
/** How long the doubles hang while the test watches. */
const HANG_MS = 30_000
/** Open connections a double may see at once: one push (nonce or sync) per node per tick, plus a pooled socket each. */
const MAX_OPEN_PER_DOUBLE = 6

let chain: DevChain
let app: TestApp
const nodes: FaultNode[] = []
const doubles: { peer: HangingPeer; wallet: Wallet }[] = []

beforeAll(async () => {
  chain = await startDevChain()
  nodes.push(await startFaultNode(chain, { MASTER_SECRET_HEX }))
  await registerKmsNode(chain, nodes[0]!)
  await waitUntil('node 1 available', async () => (await nodes[0]!.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  nodes.push(await startFaultNode(chain))
  await registerKmsNode(chain, nodes[1]!)
  await waitUntil('node 2 available', async () => (await nodes[1]!.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  app = await registerTestApp(chain)
}, 240_000)

afterAll(async () => {
  for (const node of nodes) await node.stop()
  for (const { peer } of doubles) await peer.close()
  await chain?.stop()
})

async function registerDouble(mode: 'silent' | 'trickle'): Promise<void> {
  const peer = await startHangingPeer(mode)
  const wallet = privateKeyToWallet(generateWalletPrivateKey(cryptoRandom))
  const teeKey = await generateP384PrivateKey(cryptoRandom)
  await chain.registerInstance({ teeWalletAddress: wallet as Address, teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}` as Hex, instanceUrl: peer.url })
  doubles.push({ peer, wallet })
}

describe('peers that hang', () => {
  it('behavior: sync between the real nodes goes on, requests keep completing, memory and handles stay bounded', async () => {
    const tally = new Tally()
    const clients = await Promise.all(nodes.map((node) => boundedClient(app, node, 30_000)))
    const fdBaseline = nodes.map((node) => openFdCount(node.pid))

    await registerDouble('silent')
    await registerDouble('trickle')
    // Both nodes list the doubles once their next node_tick has read the registry.
    for (const [index, node] of nodes.entries()) {
      await waitUntil(`node ${index + 1} lists the doubles`, async () => (await node.status()).cluster.total_instances === 4, { timeoutMs: 30_000, intervalMs: 250 })
    }

    let running = true
    let sequence = 0
    const acked = new Set<string>()
    const peakRss = [0, 0]
    const peakFds = [0, 0]
    const sampler = (async () => {
      while (running) {
        for (const [index, node] of nodes.entries()) {
          peakRss[index] = Math.max(peakRss[index]!, procStatusBytes(node.pid, 'VmRSS'))
          peakFds[index] = Math.max(peakFds[index]!, openFdCount(node.pid))
        }
        await sleep(500)
      }
    })()
    // Requests to the nodes while the doubles hang: each must complete (no deadline asserted).
    const worker = async (): Promise<void> => {
      /** This worker's last acknowledged put on each node, which a get on that node reads back. */
      const lastPut: (string | undefined)[] = nodes.map(() => undefined)
      while (running) {
        const index = sequence++
        const node = index % nodes.length
        const client = clients[node]!
        const key = `t-${index}`
        const op = index % 4 === 3 && lastPut[node] === undefined ? 0 : index % 4
        const run =
          op === 0
            ? () => client.derive({ path: `hang/${index}` })
            : op === 1
              ? () => client.putData(key, new TextEncoder().encode(`v${index}`))
              : op === 2
                ? () => client.listData()
                : () => client.getData(lastPut[node]!)
        const outcome = await outcomeOf(run)
        if (outcome.kind === 'ok' && op === 1) {
          acked.add(key)
          lastPut[node] = key
        }
        if (outcome.kind === 'ok') tally.note('ok')
        else if (outcome.kind === 'refused') tally.note(outcome.status >= 500 ? '5xx' : 'other', `op ${op}: ${outcome.status} ${outcome.code} ${outcome.message}`)
        else tally.note('other', `op ${op}: ${outcome.message}`)
        await sleep(20)
      }
    }
    const workers = [worker(), worker()]

    // Replication between the real nodes, round after round, while the doubles hang.
    const started = performance.now()
    let rounds = 0
    try {
      while (performance.now() - started < HANG_MS) {
        for (const [from, to] of [
          [0, 1],
          [1, 0],
        ] as const) {
          const key = `replicated-${rounds}-${from}`
          await clients[from]!.putData(key, new TextEncoder().encode(`from node ${from + 1}`))
          await waitUntil(`${key} reaches node ${to + 1} while peers hang`, async () => {
            const read = await outcomeOf(() => clients[to]!.getData(key))
            return read.kind === 'ok'
          }, { timeoutMs: 60_000, intervalMs: 500 })
        }
        rounds++
      }
    } catch (error) {
      for (const [index, node] of nodes.entries()) {
        console.log(`node ${index + 1} stderr tail:\n${node.stderrLines.slice(-15).join('\n')}`)
        console.log(`node ${index + 1} pushes:\n${(await (await node.fetch('/metrics')).text()).split('\n').filter((line) => line.startsWith('nova_kms_sync_push_total')).join('\n')}`)
      }
      throw error
    } finally {
      running = false
      await Promise.all([...workers, sampler])
    }

    // Pushes the nodes gave up on, counted while the doubles still hung.
    const metrics = await Promise.all(nodes.map(async (node) => (await node.fetch('/metrics')).text()))
    const failedPushes = doubles.map(({ wallet }) => metrics.reduce((sum, text) => sum + metricValue(text, 'nova_kms_sync_push_total', { peer: wallet, result: 'failed' }), 0))
    // The doubles go away (connections refused from now on), and every write acknowledged
    // during the hang must reach both nodes.
    for (const { peer } of doubles) await peer.close()
    let lost: string[] = []
    const deadline = performance.now() + 45_000
    do {
      const listed = await Promise.all(clients.map(async (client) => new Set(await client.listData())))
      lost = [...acked].filter((key) => listed.some((keys) => !keys.has(key)))
      if (lost.length > 0) await sleep(1000)
    } while (lost.length > 0 && performance.now() < deadline)

    const [silent, trickle] = doubles.map(({ peer }) => peer.stats)
    printSummary('peer-hangs', {
      cases: tally.cases,
      ok: tally.ok,
      correct_refusals: tally.correctRefusals,
      '5xx': tally.unexpected5xx,
      other_failures: tally.otherFailures,
      acked_puts: acked.size,
      acked_writes_lost: lost.length,
      replication_rounds: rounds,
      failed_pushes_silent: failedPushes[0]!,
      failed_pushes_trickle: failedPushes[1]!,
      silent_accepted: silent!.accepted,
      silent_max_open: silent!.maxOpen,
      silent_closed_by_node: silent!.closedByClient,
      trickle_requests: trickle!.requests,
      trickle_max_open: trickle!.maxOpen,
      trickle_closed_by_node: trickle!.closedByClient,
      trickle_bytes: trickle!.bytesTrickled,
      peak_rss_mb: peakRss.map((bytes) => (bytes / MB).toFixed(0)).join('/'),
      peak_fds: peakFds.join('/'),
      fd_baseline: fdBaseline.join('/'),
    })

    expect(lost, 'writes acknowledged during the hang missing on a node').toEqual([])
    expect(rounds, 'replication rounds between the real nodes during the hang').toBeGreaterThanOrEqual(2)
    expect(tally.samples, 'requests to the nodes that did not complete').toEqual([])
    expect(tally.ok, 'requests served during the hang').toBeGreaterThan(0)
    expect(tally.unexpected5xx).toBe(0)
    // The nodes gave up on both doubles, and closed what they opened.
    for (const count of failedPushes) expect(count).toBeGreaterThanOrEqual(2)
    expect(silent!.closedByClient).toBeGreaterThanOrEqual(2)
    expect(trickle!.closedByClient).toBeGreaterThanOrEqual(2)
    expect(silent!.maxOpen).toBeLessThanOrEqual(MAX_OPEN_PER_DOUBLE)
    expect(trickle!.maxOpen).toBeLessThanOrEqual(MAX_OPEN_PER_DOUBLE)
    for (const [index, node] of nodes.entries()) {
      expect(procStatusBytes(node.pid, 'VmHWM'), `node ${index + 1} peak resident set`).toBeLessThan(RSS_BOUND)
      expect(peakFds[index]! - fdBaseline[index]!, `node ${index + 1} open descriptors above its start`).toBeLessThan(FD_GROWTH_BOUND)
    }
  })
})
