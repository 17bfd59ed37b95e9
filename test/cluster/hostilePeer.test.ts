/**
 * A hostile peer (issue 12, H2; PROTOCOL §4.1, §12.3): two `node dist/kms.mjs` processes on
 * anvil, and a third "peer" the registry lists that is a node:http double on loopback. It
 * answers `/nonce` and `/sync` with 200 MB streamed bodies, bodies that trickle one byte a
 * second, and 307 redirects to a recorder. The real nodes must read every reply through a
 * byte cap and a deadline, follow no redirect, and keep serving each other.
 *
 * Memory is the kernel's figure for the node processes: `VmHWM` (peak resident set) from
 * `/proc/<pid>/status`.
 */
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../bundle/processes'
import { generateP384PrivateKey, generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { startHostilePeer, startRecorder, type HostilePeer, type Recorder } from '../helpers/hostilePeer'
import { cryptoRandom, registerKmsNode, registerTestApp, type TestApp } from '../helpers/kmsNodes'
import { MB, procStatusBytes, startMeasuredProcessNode, type MeasuredNode } from '../helpers/processMemory'

const MASTER_SECRET_HEX = '3c'.repeat(32)
/**
 * The stated bounds on each node's peak resident set (VmHWM). A node at rest is about
 * 100–130 MB. Facing a 200 MB `/nonce` answer it reads at most 1 KiB of it; before the fix it
 * read the whole body into a string: 735 MB measured here (the issue saw 1.25 GB), 107 MB
 * after. Facing a 200 MB `/sync` answer it reads at most MAX_SYNC_PAYLOAD_BYTES (50 MiB by
 * default) and gives up: 184 MB measured.
 */
const NONCE_FLOOD_BOUND = 200 * MB
const SYNC_FLOOD_BOUND = 384 * MB

let chain: DevChain
let recorder: Recorder
let hostile: HostilePeer
let app: TestApp
const nodes: MeasuredNode[] = []

const peak = (): number[] => nodes.map((node) => procStatusBytes(node.pid, 'VmHWM'))
const report = (label: string): void => {
  console.log(`${label}: VmHWM ${peak().map((bytes) => `${(bytes / MB).toFixed(0)} MB`).join(', ')}; hostile ${JSON.stringify({ nonce: hostile.stats.nonce, sync: hostile.stats.sync })}`)
}

/** Waits until `count()` has grown by `by`, with a bound. */
async function growth(label: string, count: () => number, by: number, timeoutMs = 60_000): Promise<void> {
  const start = count()
  await waitUntil(label, () => count() >= start + by, { timeoutMs, intervalMs: 200 })
}

async function valueOn(node: MeasuredNode, key: string): Promise<string | undefined> {
  const client = await app.client(node)
  return client.getData(key).then(
    (read) => new TextDecoder().decode(read.value),
    () => undefined,
  )
}

beforeAll(async () => {
  chain = await startDevChain()
  recorder = await startRecorder()
  hostile = await startHostilePeer(recorder)
  hostile.nonce = 'huge'
  // The hostile peer is registered first, so a joining node asks it for the secret first.
  const wallet = privateKeyToWallet(generateWalletPrivateKey(cryptoRandom))
  const teeKey = await generateP384PrivateKey(cryptoRandom)
  await chain.registerInstance({ teeWalletAddress: wallet as Address, teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}` as Hex, instanceUrl: hostile.url })

  const fast = { KMS_NODE_TICK_SECONDS: '1', DATA_SYNC_INTERVAL_SECONDS: '1' }
  nodes.push(await startMeasuredProcessNode(chain, { ...fast, MASTER_SECRET_HEX }))
  await registerKmsNode(chain, nodes[0]!)
  await waitUntil('node 1 available', async () => (await nodes[0]!.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 250 })
  nodes.push(await startMeasuredProcessNode(chain, fast))
  await registerKmsNode(chain, nodes[1]!)
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  for (const node of nodes) await node.stop()
  await hostile?.close()
  await recorder?.close()
  await chain?.stop()
})

describe('a hostile peer in the registry', () => {
  it('behavior: a 200 MB /nonce answer costs each node at most 1 KiB of it; the other node still joins and syncs', async () => {
    // Node 2 asks the hostile peer first (registry order), gives up on it, and joins from node 1.
    await waitUntil('node 2 available', async () => (await nodes[1]!.status()).node.service_available, { timeoutMs: 120_000, intervalMs: 250 })
    await (await app.client(nodes[0]!)).putData('flooded', new TextEncoder().encode('still syncing'))
    await waitUntil('the put reaches node 2', async () => (await valueOn(nodes[1]!, 'flooded')) === 'still syncing', { timeoutMs: 60_000, intervalMs: 500 })
    // Both nodes push to the hostile peer on every sync_tick.
    await growth('hostile /nonce answers', () => hostile.stats.nonce.requests, 8)
    report('200 MB /nonce')
    for (const bytes of peak()) expect(bytes).toBeLessThan(NONCE_FLOOD_BOUND)
    // The nodes went away long before the end of each answer.
    expect(hostile.stats.nonce.abandoned).toBeGreaterThan(0)
  })

  it('behavior: a 200 MB /sync answer is cut at MAX_SYNC_PAYLOAD_BYTES', async () => {
    hostile.nonce = 'ok'
    hostile.sync = 'huge'
    await growth('hostile /sync answers', () => hostile.stats.sync.requests, 6)
    await growth('abandoned /sync answers', () => hostile.stats.sync.abandoned, 4)
    report('200 MB /sync')
    for (const bytes of peak()) expect(bytes).toBeLessThan(SYNC_FLOOD_BOUND)
    expect(hostile.stats.sync.bytesWritten / hostile.stats.sync.requests).toBeLessThan(120 * MB)
  })

  it('behavior: a body that trickles is abandoned at the request deadline (nonce 5 s, delta 15 s)', async () => {
    hostile.nonce = 'slow'
    const before = hostile.stats.nonce.abandonedAfterMs.length
    await growth('abandoned slow /nonce answers', () => hostile.stats.nonce.abandoned, 2, 30_000)
    const nonceTimes = hostile.stats.nonce.abandonedAfterMs.slice(before)
    for (const ms of nonceTimes) expect(ms).toBeLessThan(8_000)

    hostile.nonce = 'ok'
    hostile.sync = 'slow'
    const syncBefore = hostile.stats.sync.abandonedAfterMs.length
    await growth('abandoned slow /sync answers', () => hostile.stats.sync.abandoned, 2, 60_000)
    for (const ms of hostile.stats.sync.abandonedAfterMs.slice(syncBefore)) expect(ms).toBeLessThan(18_000)
    // Meanwhile the two real nodes keep replicating.
    await (await app.client(nodes[1]!)).putData('while-slow', new TextEncoder().encode('from node 2'))
    await waitUntil('the put reaches node 1', async () => (await valueOn(nodes[0]!, 'while-slow')) === 'from node 2', { timeoutMs: 60_000, intervalMs: 500 })
  })

  it('error: a 307 from /nonce or /sync is a failure; the redirect target receives nothing (no PoP, no HMAC, no body)', async () => {
    hostile.sync = 'huge'
    hostile.nonce = 'redirect'
    await growth('redirected /nonce', () => hostile.stats.nonce.requests, 4)
    hostile.nonce = 'ok'
    hostile.sync = 'redirect'
    await growth('redirected /sync', () => hostile.stats.sync.requests, 4)
    report('after redirects')
    expect(recorder.received).toEqual([])
  })
})
