/**
 * Key rotation end to end (issue 16, PROTOCOL §7.7, §9.1): three nodes of the built bundle (two
 * in Miniflare, ticked by the test; one `node dist/kms.mjs`, ticking every second) on anvil with
 * the real contracts, and an app talking to them through the SDK.
 *
 * The owner starts a rotation while a bounded stream of derives and puts runs over the nodes;
 * no request fails, every answer names its epochs, and every node re-encrypts its store and
 * reports on chain. The chain refuses to retire epoch 0 until all three reported; then it is
 * retired and every node wipes it. Later, on the same cluster, one app's owner moves that app
 * to a new key epoch: only its derived keys change.
 *
 * The tests share one chain and cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readRotationStatus, retireEpoch, setAppKeyEpoch, startRotation } from '../../contracts/deploy/epochs'
import { waitUntil } from '../../bundle/processes'
import type { KmsClient } from '../../core/client'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { metricValue, outcomeOf, startFaultNode, type FaultNode, type Outcome } from '../helpers/faults'
import { refusal, registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import {
  caOf,
  describeStatuses,
  driveUntil,
  hasMigrated,
  heldEpochs,
  ownerTarget,
  revertOf,
  ROTATION_ENV,
  rotationStatus,
  runPool,
  simulateAsOwner,
  strangerTarget,
  tickRound,
} from './_rotation'

const KEYS_BEFORE = 40
const DERIVES = 300
const PUTS = 150
const OPERATIONS = DERIVES + PUTS
/** Operations run before the owner starts the rotation, then per round while it runs. */
const BEFORE_ROTATION = 150
const PER_ROUND = 24
const CONCURRENCY = 4
const FIXED_PATH = 'rotation/fixed'

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const pad = (index: number): string => String(index).padStart(3, '0')

let chain: DevChain
let app: TestApp
/** Two Miniflare nodes (0 and 2) and a process (1), whose WARN log lines the test keeps. */
const nodes: TestNode[] = []
let processNode: FaultNode
/** Every key the app wrote, with the value it wrote last. */
const expected = new Map<string, string>()

async function clientsOf(owner: TestApp): Promise<KmsClient[]> {
  return Promise.all(nodes.map((node) => owner.client(node)))
}

/** Reads every expected key from every node; returns what differs (empty when all read back). */
async function readBackMismatches(owner: TestApp, values: ReadonlyMap<string, string>): Promise<string[]> {
  const clients = await clientsOf(owner)
  const entries = [...values]
  const mismatches: string[] = []
  await runPool(entries.length * clients.length, 6, async (index) => {
    const [key, value] = entries[index % entries.length]!
    const node = Math.floor(index / entries.length)
    const outcome = await outcomeOf(async () => decode((await clients[node]!.getData(key)).value))
    if (outcome.kind !== 'ok' || outcome.value !== value) mismatches.push(`node ${node} ${key}: ${JSON.stringify(outcome)}`)
  })
  return mismatches
}

beforeAll(async () => {
  chain = await startDevChain()
  const first = await startMiniflareNode(chain, ROTATION_ENV)
  nodes.push(first)
  await registerKmsNode(chain, first)
  await tickUntil(first, (status) => status.node.service_available)
  processNode = await startFaultNode(chain, ROTATION_ENV)
  nodes.push(processNode)
  const third = await startMiniflareNode(chain, ROTATION_ENV)
  nodes.push(third)
  await registerKmsNode(chain, processNode)
  await registerKmsNode(chain, third)
  // The first node learns of the newcomers on its next tick, and then serves them the secret.
  await first.tick('node_tick')
  await tickUntil(third, (status) => status.node.service_available)
  await waitUntil('the process node available', async () => (await processNode.status()).node.service_available, { timeoutMs: 60_000, intervalMs: 200 })
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)))
  await chain?.stop()
})

describe('a rotation under load, then retirement', () => {
  let fingerprint0: string
  let key0: string

  it('behavior: three nodes serve epoch 0 and hold the keys written before', async () => {
    const clients = await clientsOf(app)
    await runPool(KEYS_BEFORE, CONCURRENCY, async (index) => {
      const key = `before-${pad(index)}`
      await clients[0]!.putData(key, encode(`initial ${key}`))
      expected.set(key, `initial ${key}`)
    })
    await driveUntil('every node holds the keys written before', nodes, async () => {
      const statuses = await Promise.all(nodes.map(rotationStatus))
      return statuses.every((status) => status.data_store.total_keys === KEYS_BEFORE)
    })
    const statuses = await Promise.all(nodes.map(rotationStatus))
    for (const status of statuses) {
      expect(status.node.service_available).toBe(true)
      expect(status.epochs).toMatchObject({ current: 0, serving: 0, live: [0], missing: [], awaiting_commit: null, migration_reported: null })
      expect(heldEpochs(status)).toEqual([0])
    }
    const cas = await Promise.all(nodes.map(caOf))
    fingerprint0 = cas[0]!.fingerprint_sha256
    for (const ca of cas) expect(ca).toMatchObject({ epoch: 0, fingerprint_sha256: fingerprint0 })
    for (const ca of cas) expect(ca.previous).toBeUndefined()
    key0 = bytesToHex((await clients[1]!.derive({ path: FIXED_PATH })).key)
  })

  it('behavior: a rotation under a stream of derives and puts: no request fails, every node migrates and reports; the chain refuses to retire before all reported', async () => {
    const clients = await clientsOf(app)
    const derived: { cluster: number; app: number; key: string; node: number }[] = []
    const failures: string[] = []
    const run = async (operation: number): Promise<void> => {
      const node = (operation + Math.floor(operation / 3)) % nodes.length
      const client = clients[node]!
      let outcome: Outcome
      if (operation % 3 !== 2) {
        outcome = await outcomeOf(() => client.derive({ path: FIXED_PATH }))
        if (outcome.kind === 'ok') {
          const answer = outcome.value as Awaited<ReturnType<KmsClient['derive']>>
          derived.push({ ...answer.epoch, key: bytesToHex(answer.key), node })
        }
      } else {
        const put = Math.floor(operation / 3)
        const key = put % 3 === 0 && put / 3 < KEYS_BEFORE ? `before-${pad(put / 3)}` : `during-${pad(put)}`
        const value = `put ${put} on node ${node}`
        outcome = await outcomeOf(() => client.putData(key, encode(value)))
        if (outcome.kind === 'ok') expected.set(key, value)
      }
      if (outcome.kind !== 'ok') failures.push(`operation ${operation} on node ${node}: ${JSON.stringify(outcome)}`)
    }
    let done = 0
    const runNext = (count: number): Promise<unknown> => {
      const from = done
      done = Math.min(OPERATIONS, done + count)
      return runPool(done - from, CONCURRENCY, (offset) => run(from + offset))
    }

    await runNext(BEFORE_ROTATION)
    const startedAt = performance.now()
    const rotation = await startRotation(ownerTarget(chain))
    expect(rotation.epoch).toBe(1)
    // Nothing to retire to yet: epoch 1 has no hash (the contract checks that before the reports).
    expect(await revertOf(simulateAsOwner(chain, 'retireEpoch', [0n]))).toEqual({ errorName: 'EpochNotCommitted', args: [] })

    let refusedIncomplete: { errorName: string; args: readonly unknown[] } | undefined
    let missingThen: string[] = []
    let rounds = 0
    let allMigratedMs: number | undefined
    for (; rounds < 150; rounds++) {
      const statuses = await Promise.all(nodes.map(rotationStatus))
      if (allMigratedMs === undefined && statuses.every((status) => hasMigrated(status, 1))) allMigratedMs = performance.now() - startedAt
      if (done === OPERATIONS && allMigratedMs !== undefined) break
      if (refusedIncomplete === undefined) {
        const onChain = await readRotationStatus(ownerTarget(chain))
        if (onChain.epochs[0]!.committed && onChain.missing.length > 0) {
          missingThen = onChain.missing
          refusedIncomplete = await revertOf(simulateAsOwner(chain, 'retireEpoch', [0n]))
          await expect(retireEpoch({ ...ownerTarget(chain), epoch: 0, force: false })).rejects.toThrow(/^MigrationIncomplete: not sent; /)
        }
      }
      // Requests and ticks at once: the nodes move to epoch 1 while answering. Once the stream is
      // done, a pause per round lets the process node tick.
      await Promise.all([done < OPERATIONS ? runNext(PER_ROUND) : new Promise((resolve) => setTimeout(resolve, 250)), tickRound(nodes)])
    }
    const statuses = await Promise.all(nodes.map(rotationStatus))
    expect(allMigratedMs, describeStatuses(statuses)).toBeDefined()

    expect(failures).toEqual([])
    expect(derived).toHaveLength(DERIVES)
    expect(refusedIncomplete?.errorName).toBe('MigrationIncomplete')
    expect(String(refusedIncomplete?.args[0]).toLowerCase()).toBe(missingThen[0])
    for (const answer of derived) {
      expect(answer.app).toBe(0)
      expect([0, 1]).toContain(answer.cluster)
    }
    const keysOf = (cluster: number) => new Set(derived.filter((answer) => answer.cluster === cluster).map((answer) => answer.key))
    expect(keysOf(0)).toEqual(new Set([key0]))
    expect(keysOf(1).size).toBe(1)
    expect(keysOf(1).has(key0)).toBe(false)
    // The stream spanned the switch: the Miniflare nodes, ticked in step with it, answered under
    // both epochs. (The process node ticks on its own timer; it may switch after the stream.)
    const servedUnder = (cluster: number) => new Set(derived.filter((answer) => answer.cluster === cluster).map((answer) => answer.node))
    expect(servedUnder(0)).toEqual(new Set([0, 1, 2]))
    for (const miniflare of [0, 2]) expect(servedUnder(1)).toContain(miniflare)

    const metrics = await Promise.all(nodes.map(async (node) => (await node.fetch('/metrics')).text()))
    const reencrypted = metrics.map((text) => metricValue(text, 'nova_kms_reencrypted_records_total', { result: 'ok' }))
    const reencryptFailed = metrics.map((text) => metricValue(text, 'nova_kms_reencrypted_records_total', { result: 'failed' }))
    expect(reencryptFailed).toEqual([0, 0, 0])
    for (const count of reencrypted) expect(count).toBeGreaterThan(0)
    const onChain = await readRotationStatus(ownerTarget(chain))
    expect(onChain.missing).toEqual([])
    console.log(
      `rotation/underLoad: requests=${OPERATIONS} during_rotation=${OPERATIONS - BEFORE_ROTATION} failed=${failures.length} ` +
        `derives_epoch0=${derived.filter((answer) => answer.cluster === 0).length} derives_epoch1=${derived.filter((answer) => answer.cluster === 1).length} ` +
        `start_to_all_migrated_ms=${Math.round(allMigratedMs!)} rounds=${rounds} reencrypted=${reencrypted.join('/')} ` +
        `process_node_epoch1_during_stream=${servedUnder(1).has(1)} process_node_commit_retries_exhausted=${processNode.stderrLines.filter((line) => line.includes('setMasterSecretHash failed for a new epoch')).length}`,
    )
  })

  it('behavior: during the grace period every node holds both epochs, /kms/ca names both, and every key reads back from every node', async () => {
    for (const status of await Promise.all(nodes.map(rotationStatus))) {
      expect(heldEpochs(status)).toEqual([0, 1])
      expect(status.epochs).toMatchObject({ current: 1, serving: 1, live: [0, 1], missing: [], wiped: [] })
    }
    const cas = await Promise.all(nodes.map(caOf))
    for (const ca of cas) {
      expect(ca.epoch).toBe(1)
      expect(ca.fingerprint_sha256).not.toBe(fingerprint0)
      expect(ca.fingerprint_sha256).toBe(cas[0]!.fingerprint_sha256)
      expect(ca.previous).toMatchObject({ epoch: 0, fingerprint_sha256: fingerprint0 })
    }

    // The keys written before (each overwritten once during the stream) and the new ones.
    expect(expected.size).toBe(KEYS_BEFORE + (PUTS - KEYS_BEFORE))
    const converged = await driveUntil('every node holds every key', nodes, async () => {
      const statuses = await Promise.all(nodes.map(rotationStatus))
      return statuses.every((status) => status.data_store.total_keys === expected.size && status.epochs.reencryption.done)
    }, { rounds: 40 }).then(
      () => '',
      (error: unknown) => String(error),
    )
    // What differs, key by key, before the counts: the more telling failure.
    expect(await readBackMismatches(app, expected)).toEqual([])
    expect(converged).toBe('')
  })

  it('behavior: the owner retires epoch 0 (every operator reported); every node wipes it, refuses it with 410, and still reads every key', async () => {
    await retireEpoch({ ...ownerTarget(chain), epoch: 0, force: false })
    expect((await readRotationStatus(ownerTarget(chain))).epochs[1]).toMatchObject({ epoch: 0, retired: true })
    await driveUntil('every node wiped epoch 0', nodes, async () => {
      const statuses = await Promise.all(nodes.map(rotationStatus))
      return statuses.every((status) => status.epochs.wiped.includes(0))
    }, { sync: false })
    for (const status of await Promise.all(nodes.map(rotationStatus))) {
      expect(status.node.service_available).toBe(true)
      expect(status.epochs.held).toEqual([{ epoch: 1, hash: expect.stringMatching(/^0x[0-9a-f]{64}$/) }])
      expect(status.epochs).toMatchObject({ current: 1, serving: 1, live: [1], wiped: [0] })
    }
    for (const ca of await Promise.all(nodes.map(caOf))) {
      expect(ca.epoch).toBe(1)
      expect(ca.previous).toBeUndefined()
    }
    for (const client of await clientsOf(app)) {
      expect(await refusal(() => client.derive({ path: FIXED_PATH, epoch: { cluster: 0 } }))).toEqual({ status: 410, code: 'epoch_retired', message: 'Epoch 0 is retired' })
    }
    expect(await readBackMismatches(app, expected)).toEqual([])
  })
})

describe("an app's own key epoch", () => {
  it("behavior: only the app's owner moves app A to key epoch 1; A's derived keys change, B's and A's data do not", async () => {
    const [appA, appB] = [await registerTestApp(chain), await registerTestApp(chain)]
    const [clientsA, clientsB] = [await clientsOf(appA), await clientsOf(appB)]
    const derive = async (client: KmsClient, epoch?: { cluster?: number; app?: number }) => {
      const answer = await client.derive({ path: FIXED_PATH, ...(epoch === undefined ? {} : { epoch }) })
      return { key: bytesToHex(answer.key), epoch: answer.epoch }
    }
    const beforeA = await Promise.all(clientsA.map((client) => derive(client)))
    const beforeB = await Promise.all(clientsB.map((client) => derive(client)))
    for (const answer of [...beforeA, ...beforeB]) expect(answer.epoch).toEqual({ cluster: 1, app: 0 })
    expect(new Set(beforeA.map((answer) => answer.key)).size).toBe(1)
    expect(new Set(beforeB.map((answer) => answer.key)).size).toBe(1)
    const valuesA = new Map<string, string>()
    for (let index = 0; index < 5; index++) {
      await clientsA[index % nodes.length]!.putData(`a-${index}`, encode(`value ${index} of A`))
      valuesA.set(`a-${index}`, `value ${index} of A`)
    }

    const stranger = await strangerTarget(chain)
    expect(await revertOf(setAppKeyEpoch({ ...stranger, appId: appA.appId, epoch: 1 }))).toEqual({ errorName: 'NotAppOwner', args: [] })
    // registerTestApp makes the chain owner the app's owner in NovaAppRegistry.
    await setAppKeyEpoch({ ...ownerTarget(chain), appId: appA.appId, epoch: 1 })

    // Within the registry cache's lifetime (1 s here) every node answers under A's new epoch.
    const afterA = await Promise.all(
      clientsA.map((client, index) =>
        waitUntil(`node ${index} derives A under app epoch 1`, async () => {
          const answer = await derive(client)
          return answer.epoch.app === 1 ? answer : undefined
        }, { timeoutMs: 30_000, intervalMs: 250 }),
      ),
    )
    for (const [index, client] of clientsA.entries()) {
      expect(afterA[index]!.epoch).toEqual({ cluster: 1, app: 1 })
      expect(afterA[index]!.key).toBe(afterA[0]!.key)
      expect(afterA[index]!.key).not.toBe(beforeA[0]!.key)
      expect(await derive(client, { app: 0 })).toEqual({ key: beforeA[0]!.key, epoch: { cluster: 1, app: 0 } })
      expect(await derive(client, { cluster: 1, app: 1 })).toEqual(afterA[0])
      expect(await refusal(() => client.derive({ path: FIXED_PATH, epoch: { app: 2 } }))).toMatchObject({ status: 400, code: 'bad_request' })
      expect(await derive(clientsB[index]!)).toEqual(beforeB[0])
    }
    await driveUntil("every node holds A's values", nodes, async () => (await readBackMismatches(appA, valuesA)).length === 0, { rounds: 40 })
    expect(await readBackMismatches(appA, valuesA)).toEqual([])
  })
})
