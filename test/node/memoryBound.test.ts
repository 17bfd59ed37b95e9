/**
 * Finding M1 (issue 12) against `node dist/kms.mjs` on anvil: one app floods the store with
 * PUTs of 1 KiB keys and empty values. Before, only ciphertext was counted (28 bytes a
 * record), so 20,000 such PUTs counted 560 KB against the 10 MiB cap and added 84 MiB of
 * RSS on a replica. Now every record is charged key + ciphertext + 768 + 128 per clock entry
 * (PROTOCOL §6.4), and a namespace holds at most MAX_RECORDS_PER_APP records.
 *
 * To stay within a minute on a shared 2-core machine (an authenticated PUT costs the client
 * and the node ECDH, AES and a signature each: 25 PUTs/s here under load), the caps are
 * scaled down (MAX_APP_STORAGE_BYTES = 64 KiB, MAX_RECORDS_PER_APP = 50) and the flood is
 * 150 PUTs per app, several times what the caps hold: app A (1 KiB keys) reaches the byte
 * cap (33 records), app B (4-byte keys) the record cap. Under the old accounting A's 150
 * records would have counted 4,200 bytes and all stayed.
 * Every PUT must succeed (the excess is evicted, LRU), the figures must be exact, and the
 * node's peak RSS (`VmHWM`) must stay under the bound stated below.
 */
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnKmsNode, type KmsNodeProcess } from '../../bundle/processes'
import type { KmsClient } from '../../core/client'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { BUNDLE_PATH, assertBundleBuilt, nodeEnvironment, refusal, registerKmsNode, registerTestApp, tickUntil, type NodeStatus, type TestApp, type TestNode } from '../helpers/kmsNodes'

const MIB = 1024 * 1024
const MAX_APP_STORAGE_BYTES = 64 * 1024
const MAX_RECORDS_PER_APP = 50
const PUTS_PER_APP = 150
const CONCURRENCY = 6
/** §6.4: a 1024-byte key, an empty value (28 bytes of ciphertext), one clock entry. */
const WIDE_RECORD = 1024 + 28 + 768 + 128
/** §6.4: a 4-byte key (`b000`…`b150`), an empty value, one clock entry. */
const SHORT_RECORD = 4 + 28 + 768 + 128
/**
 * The bound this test states for the node's peak RSS. Measured on this machine (2 cores,
 * load average 12): VmRSS about 91 MB when ready, VmHWM 125–134 MB after the flood (the
 * scaled floods of 302 to 602 PUTs), almost all of it garbage the heap has not given back;
 * the records themselves are about 0.1 MB.
 */
const PEAK_RSS_BOUND_BYTES = 200 * MIB
/** …and for its growth over the flood. */
const RSS_GROWTH_BOUND_BYTES = 96 * MIB

let chain: DevChain
let processNode: KmsNodeProcess
let node: TestNode
let appA: TestApp
let appB: TestApp

function procBytes(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  if (match === null) throw new Error(`/proc/${pid}/status has no ${field}`)
  return Number(match[1]) * 1024
}

const wideKey = (index: number) => `a${index}`.padEnd(1024, '.')
const shortKey = (index: number) => `b${String(index).padStart(3, '0')}`

/** Runs `count` PUTs, `CONCURRENCY` at a time; returns how many failed and with what. */
async function flood(client: KmsClient, count: number, key: (index: number) => string): Promise<string[]> {
  const failures: string[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) {
      await client.putData(key(index), new Uint8Array(0)).catch((error: unknown) => failures.push(String(error)))
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return failures
}

beforeAll(async () => {
  assertBundleBuilt()
  chain = await startDevChain()
  // startProcessNode's TestNode has no PID; this is the same spawn, keeping it.
  const env = nodeEnvironment(chain, {
    KMS_NODE_TICK_SECONDS: '1',
    APP_RATE_LIMIT_PER_MINUTE: '0',
    MAX_KV_VALUE_SIZE_BYTES: '1024',
    MAX_APP_STORAGE_BYTES: String(MAX_APP_STORAGE_BYTES),
    MAX_RECORDS_PER_APP: String(MAX_RECORDS_PER_APP),
  })
  processNode = await spawnKmsNode({ env, bundlePath: BUNDLE_PATH })
  const fetcher = (path: string, init?: RequestInit): Promise<Response> => fetch(`${processNode.url}${path}`, init)
  node = {
    kind: 'process',
    url: processNode.url,
    fetch: fetcher,
    tick: async () => undefined,
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: processNode.stop,
  }
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available, { attempts: 40, delayMs: 500 })
  appA = await registerTestApp(chain)
  appB = await registerTestApp(chain)
})

afterAll(async () => {
  await processNode?.stop()
  await chain?.stop()
})

describe('finding M1: a flood of 1 KiB keys with empty values (issue 12)', () => {
  it('behavior: every PUT succeeds, the excess is evicted by the charged caps, and peak RSS stays bounded', async () => {
    const fetchOverHttp = { fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init) }
    const [clientA, clientB] = await Promise.all([appA.client(node, fetchOverHttp), appB.client(node, fetchOverHttp)])
    const rssBefore = procBytes(processNode.pid, 'VmRSS')
    const started = performance.now()
    const failures = (await Promise.all([flood(clientA, PUTS_PER_APP, wideKey), flood(clientB, PUTS_PER_APP, shortKey)])).flat()
    const seconds = (performance.now() - started) / 1000
    // The last write of each app is the most recent; it is never evicted.
    await clientA.putData(wideKey(PUTS_PER_APP), new Uint8Array(0))
    await clientB.putData(shortKey(PUTS_PER_APP), new Uint8Array(0))
    const peak = procBytes(processNode.pid, 'VmHWM')
    const rssAfter = procBytes(processNode.pid, 'VmRSS')
    const status = await node.status()
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1)
    console.log(
      `M1 flood: ${2 * PUTS_PER_APP + 2} PUTs in ${seconds.toFixed(1)} s; ${JSON.stringify(status.data_store)}; ` +
        `VmRSS ${mb(rssBefore)} → ${mb(rssAfter)} MB, VmHWM ${mb(peak)} MB`,
    )

    expect(failures).toEqual([])
    // A holds what 64 KiB of 1948-byte charges holds; B, MAX_RECORDS_PER_APP records.
    const heldA = Math.floor(MAX_APP_STORAGE_BYTES / WIDE_RECORD)
    expect(heldA).toBe(33)
    expect(heldA).toBeLessThan(MAX_RECORDS_PER_APP)
    expect(MAX_RECORDS_PER_APP * SHORT_RECORD).toBeLessThan(MAX_APP_STORAGE_BYTES)
    expect(status.data_store).toEqual({ namespaces: 2, total_keys: heldA + MAX_RECORDS_PER_APP, total_bytes: heldA * WIDE_RECORD + MAX_RECORDS_PER_APP * SHORT_RECORD })
    const keysA = await clientA.listData()
    expect(keysA).toHaveLength(heldA)
    expect(keysA).toContain(wideKey(PUTS_PER_APP))
    expect(await clientB.listData()).toHaveLength(MAX_RECORDS_PER_APP)
    // The first writes were the least recently used: evicted without a tombstone.
    expect(await refusal(() => clientA.getData(wideKey(0)))).toMatchObject({ status: 404, code: 'not_found' })
    // /metrics reports the same charged bytes as /status.
    const metrics = await (await node.fetch('/metrics')).text()
    expect(metrics).toContain(`\nnova_kms_kv_bytes ${status.data_store.total_bytes}\n`)

    expect(peak).toBeLessThan(PEAK_RSS_BOUND_BYTES)
    expect(peak - rssBefore).toBeLessThan(RSS_GROWTH_BOUND_BYTES)
    expect((await node.fetch('/health')).status).toBe(200)
  })
})
