/**
 * Who takes part in a rotation (issue 16, PROTOCOL §7.7 "Who gets a new epoch", §7.2, §9.1): on
 * anvil with the real contracts, two Miniflare nodes (ticked by the test) and three `node
 * dist/kms.mjs` processes serve epoch 0: one that will be killed and restarted mid-rotation, one
 * on a KMS version that is DEPRECATED before the rotation, and one on a version REVOKED before it.
 *
 * The restarted process is the same registered instance (same dev wallet and P-384 key, same
 * port) with no secret: it must fetch both live epochs from its peers, pull a snapshot,
 * re-encrypt it and report. The DEPRECATED node keeps serving epoch 0 but is refused epoch 1
 * by every peer's fresh registry check (403); the REVOKED one leaves the peer caches, its own
 * included, and never holds epoch 1. Neither reports, so epoch 0 is retired only by
 * forceRetireEpoch once RETIRE_GRACE_SECONDS have passed on anvil's clock; the DEPRECATED node
 * then has no live epoch and becomes unavailable.
 *
 * The tests share one chain and cluster and run in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readRotationStatus, retireEpoch, startRotation } from '../../contracts/deploy/epochs'
import { waitUntil } from '../../bundle/processes'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { metricValue, startFaultNode, type FaultNode } from '../helpers/faults'
import { registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'
import {
  devIdentityEnv,
  driveUntil,
  enrollKmsVersion,
  hasMigrated,
  heldEpochs,
  increaseChainTime,
  ownerTarget,
  registerKmsNodeOnVersion,
  revertOf,
  ROTATION_ENV,
  rotationStatus,
  runPool,
  simulateAsOwner,
  type RotationStatus,
} from './_rotation'

const KEYS_BEFORE = 40
const KEYS_DURING_DOWNTIME = 10
const DEPRECATED_VERSION = 2
const REVOKED_VERSION = 3
const VERSION_STATUS = { DEPRECATED: 1, REVOKED: 2 } as const
/** The killed node does not push or re-encrypt before it dies, so its restart has all of that to do. */
const NO_SYNC_BEFORE_KILL = { DATA_SYNC_INTERVAL_SECONDS: '3600' }
const WAIT = { timeoutMs: 60_000, intervalMs: 250 }

const encode = (text: string): Uint8Array => new TextEncoder().encode(text)
const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

let chain: DevChain
let app: TestApp
let first: TestNode
let second: TestNode
let restarted: FaultNode
let deprecated: FaultNode
let revoked: FaultNode
const identity = devIdentityEnv()
const stopped: { stop(): Promise<void> }[] = []
const expected = new Map<string, string>()

/** The nodes that stay ENROLLED: they must take every step of the rotation. */
const healthy = (): TestNode[] => [first, second, restarted]

async function available(node: TestNode, label: string): Promise<RotationStatus> {
  return waitUntil(label, async () => {
    const status = await rotationStatus(node)
    return status.node.service_available ? status : undefined
  }, WAIT)
}

async function readBack(node: TestNode): Promise<string[]> {
  const client = await app.client(node)
  const mismatches: string[] = []
  const entries = [...expected]
  await runPool(entries.length, 4, async (index) => {
    const [key, value] = entries[index]!
    const read = await client.getData(key).then(
      (answer) => decode(answer.value),
      (error: unknown) => `refused: ${String(error)}`,
    )
    if (read !== value) mismatches.push(`${key}: ${read}`)
  })
  return mismatches
}

beforeAll(async () => {
  chain = await startDevChain()
  first = await startMiniflareNode(chain, ROTATION_ENV)
  stopped.push(first)
  await registerKmsNode(chain, first)
  await tickUntil(first, (status) => status.node.service_available)

  second = await startMiniflareNode(chain, ROTATION_ENV)
  stopped.push(second)
  restarted = await startFaultNode(chain, { ...ROTATION_ENV, ...identity, ...NO_SYNC_BEFORE_KILL })
  stopped.push(restarted)
  await enrollKmsVersion(chain, DEPRECATED_VERSION)
  await enrollKmsVersion(chain, REVOKED_VERSION)
  deprecated = await startFaultNode(chain, ROTATION_ENV)
  stopped.push(deprecated)
  revoked = await startFaultNode(chain, ROTATION_ENV)
  stopped.push(revoked)
  await registerKmsNode(chain, second)
  await registerKmsNode(chain, restarted)
  await registerKmsNodeOnVersion(chain, deprecated, DEPRECATED_VERSION)
  await registerKmsNodeOnVersion(chain, revoked, REVOKED_VERSION)
  await first.tick('node_tick')
  await tickUntil(second, (status) => status.node.service_available)
  for (const node of [restarted, deprecated, revoked]) await available(node, `process node ${node.url} available`)
  app = await registerTestApp(chain)
}, 300_000)

afterAll(async () => {
  await Promise.all(stopped.map((node) => node.stop().catch(() => undefined)))
  await chain?.stop()
})

describe('a rotation with a restart, a DEPRECATED and a REVOKED version', () => {
  it('behavior: five nodes serve epoch 0 with every key; then version 2 is DEPRECATED (it keeps serving) and version 3 REVOKED (it leaves every peer cache, its own included)', async () => {
    const client = await app.client(first)
    await runPool(KEYS_BEFORE, 4, async (index) => {
      const key = `before-${index}`
      await client.putData(key, encode(`value of ${key}`))
      expected.set(key, `value of ${key}`)
    })
    const all = [first, second, restarted, deprecated, revoked]
    await driveUntil('every node holds the keys written before', all, async () => {
      const statuses = await Promise.all(all.map(rotationStatus))
      return statuses.every((status) => status.data_store.total_keys === KEYS_BEFORE && status.epochs.serving === 0)
    })

    await chain.setVersionStatus(chain.addresses.kmsAppId, DEPRECATED_VERSION, VERSION_STATUS.DEPRECATED)
    await chain.setVersionStatus(chain.addresses.kmsAppId, REVOKED_VERSION, VERSION_STATUS.REVOKED)
    await waitUntil('the REVOKED node out of its own peer cache', async () => (await rotationStatus(revoked)).node.unavailable_reason === 'self not in KMS node list', WAIT)
    // The Miniflare nodes drop it from their peer caches too, once their registry cache (1 s) expires.
    await driveUntil('the REVOKED node out of the Miniflare nodes\' peer caches', [first, second], async () => {
      const statuses = await Promise.all([first, second].map(rotationStatus))
      return statuses.every((status) => status.cluster.total_instances === 4)
    }, { sync: false })
    const stillServing = await rotationStatus(deprecated)
    expect(stillServing.node.service_available).toBe(true)
    expect(stillServing.epochs.serving).toBe(0)
    expect((await readBack(deprecated))).toEqual([])
  })

  it('behavior: a node SIGKILLed after epoch 1 is committed, restarted with its identity and no secret, fetches both live epochs, re-encrypts its snapshot and reports', async () => {
    const rotation = await startRotation(ownerTarget(chain))
    expect(rotation.epoch).toBe(1)
    // The Miniflare nodes commit and fetch epoch 1; they do not re-encrypt yet (no sync_tick),
    // so the restarted node's snapshot still holds epoch-0 records.
    await driveUntil('epoch 1 committed and held by both Miniflare nodes', [first, second], async () => {
      const onChain = await readRotationStatus(ownerTarget(chain))
      const statuses = await Promise.all([first, second].map(rotationStatus))
      return onChain.epochs[0]!.committed && statuses.every((status) => heldEpochs(status).includes(1) && status.epochs.serving === 1)
    }, { sync: false })
    const beforeKill = await rotationStatus(restarted)
    expect(beforeKill.epochs.migration_reported).toBeNull()
    expect(beforeKill.data_store.total_keys).toBe(KEYS_BEFORE)
    await restarted.kill()

    const client = await app.client(first)
    for (let index = 0; index < KEYS_DURING_DOWNTIME; index++) {
      const key = `downtime-${index}`
      await client.putData(key, encode(`written on epoch 1 while a node was down: ${key}`))
      expect((await client.derive({ path: 'downtime' })).epoch.cluster).toBe(1)
      expected.set(key, `written on epoch 1 while a node was down: ${key}`)
    }

    const port = Number(new URL(restarted.url).port)
    const previousWallet = beforeKill.node.tee_wallet
    const restartedAt = performance.now()
    restarted = await startFaultNode(chain, { ...ROTATION_ENV, ...identity }, { port })
    stopped.push(restarted)
    const rejoined = await waitUntil('the restarted node serving epoch 1 with both epochs', async () => {
      const status = await rotationStatus(restarted)
      return status.node.service_available && status.epochs.serving === 1 ? status : undefined
    }, WAIT)
    expect(rejoined.node.tee_wallet).toBe(previousWallet)
    expect(rejoined.node.master_secret.state).toBe('synced')
    expect(heldEpochs(rejoined)).toEqual([0, 1])
    expect(rejoined.epochs.held).toEqual((await rotationStatus(first)).epochs.held)

    const servingMs = performance.now() - restartedAt
    // The Miniflare nodes tick meanwhile (a snapshot from the second one may lack the downtime
    // keys until the first pushes them).
    await driveUntil('the restarted node re-encrypted, reported and holds every key', [first, second], async () => {
      const status = await rotationStatus(restarted)
      return hasMigrated(status, 1) && status.data_store.total_keys === KEYS_BEFORE + KEYS_DURING_DOWNTIME ? status : undefined
    })
    const reportedMs = performance.now() - restartedAt
    const metrics = await (await restarted.fetch('/metrics')).text()
    // Its snapshot held the epoch-0 records, which it moved to epoch 1 itself.
    expect(metricValue(metrics, 'nova_kms_reencrypted_records_total', { result: 'ok' })).toBeGreaterThanOrEqual(KEYS_BEFORE)
    const onChain = await readRotationStatus(ownerTarget(chain))
    expect(onChain.operators.find((operator) => operator.operator === previousWallet)).toMatchObject({ reportedEpoch: 1, migrated: true })
    expect(await readBack(restarted)).toEqual([])
    console.log(`rotation/restart: restart_to_serving_epoch1_ms=${Math.round(servingMs)} restart_to_reported_ms=${Math.round(reportedMs)} reencrypted=${metricValue(metrics, 'nova_kms_reencrypted_records_total', { result: 'ok' })}`)
  })

  it('behavior: the Miniflare nodes migrate too; the DEPRECATED node is refused epoch 1 (403) and keeps serving epoch 0, the REVOKED one never holds it', async () => {
    await driveUntil('every ENROLLED node migrated', [first, second], async () => {
      const statuses = await Promise.all(healthy().map(rotationStatus))
      return statuses.every((status) => hasMigrated(status, 1))
    })
    const stale = await waitUntil('the DEPRECATED node names epoch 1 missing', async () => {
      const status = await rotationStatus(deprecated)
      return status.epochs.missing.includes(1) ? status : undefined
    }, WAIT)
    expect(stale.node.service_available).toBe(true)
    expect(stale.epochs).toMatchObject({ current: 1, serving: 0, live: [0, 1], missing: [1], migration_reported: null })
    expect(heldEpochs(stale)).toEqual([0])
    // Every ENROLLED peer refused its request for epoch 1 with 403: a receiver of a secret must be
    // on an ENROLLED version (§4.5 step 1, checked before §7.7's fresh registry check).
    const refusal = 'peer answered 403: Peer attestation rejected: version not enrolled'
    const refusals = deprecated.stderrLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      // A refusal of this node's own document is logged as `peer attestation failed` (core/cluster/nodeTick.ts).
      .filter((line) => (line['msg'] === 'peer attestation failed' || line['msg'] === 'master secret request failed') && line['epoch'] === 1)
    for (const node of healthy()) {
      const fromNode = refusals.filter((line) => line['peer'] === node.url).map((line) => line['error'])
      expect(fromNode, `the DEPRECATED node's requests to ${node.url}`).toContain(refusal)
    }
    // And each of them counts the refused requester document in its metrics.
    for (const node of healthy()) {
      await waitUntil(`${node.url} counts a refused DEPRECATED requester`, async () => {
        const metrics = await (await node.fetch('/metrics')).text()
        return metricValue(metrics, 'nova_kms_peer_attestations_total', { verified: 'requester', result: 'version not enrolled' }) > 0
      }, WAIT)
    }

    const gone = await rotationStatus(revoked)
    expect(gone.node.service_available).toBe(false)
    expect(gone.node.unavailable_reason).toBe('self not in KMS node list')
    expect(heldEpochs(gone)).not.toContain(1)
    expect(gone.epochs.serving).not.toBe(1)
    for (const node of healthy()) expect((await rotationStatus(node)).cluster.total_instances).toBe(4)
    for (const node of healthy()) expect(await readBack(node)).toEqual([])
  })

  it('behavior: without their reports epoch 0 is retired only by force after the grace period; the DEPRECATED node then has no live epoch and becomes unavailable', async () => {
    const onChain = await readRotationStatus(ownerTarget(chain))
    const deprecatedWallet = (await rotationStatus(deprecated)).node.tee_wallet
    const revokedWallet = (await rotationStatus(revoked)).node.tee_wallet
    expect(new Set(onChain.missing)).toEqual(new Set([deprecatedWallet, revokedWallet]))
    const refusedRetire = await revertOf(simulateAsOwner(chain, 'retireEpoch', [0n]))
    expect(refusedRetire.errorName).toBe('MigrationIncomplete')
    expect(String(refusedRetire.args[0]).toLowerCase()).toBe(onChain.missing[0])
    expect(await revertOf(simulateAsOwner(chain, 'forceRetireEpoch', [0n]))).toEqual({ errorName: 'GracePeriodNotOver', args: [] })

    await increaseChainTime(chain, onChain.retireGraceSeconds)
    const retired = await retireEpoch({ ...ownerTarget(chain), epoch: 0, force: true })
    expect(retired.forced).toBe(true)

    await driveUntil('epoch 0 wiped everywhere it was held', [first, second], async () => {
      const statuses = await Promise.all([...healthy(), deprecated].map(rotationStatus))
      return statuses.every((status) => status.epochs.wiped.includes(0))
    }, { sync: false })
    for (const node of healthy()) {
      const status = await rotationStatus(node)
      expect(status.node.service_available).toBe(true)
      expect(heldEpochs(status)).toEqual([1])
      expect(status.epochs).toMatchObject({ serving: 1, live: [1], wiped: [0] })
      expect(await readBack(node)).toEqual([])
    }
    const stranded = await waitUntil('the DEPRECATED node unavailable', async () => {
      const status = await rotationStatus(deprecated)
      return status.node.service_available ? undefined : status
    }, WAIT)
    expect(stranded.epochs.held).toEqual([])
    expect(stranded.epochs.serving).toBeNull()
    expect(stranded.epochs.wiped).toEqual([0])
    // Its peers refuse it for its version (§4.5), so §7.1 step 7 names the attestation.
    expect(stranded.node.unavailable_reason).toBe('peer attestation failed')
    expect((await deprecated.fetch('/kms/ca')).status).toBe(503)
    // The REVOKED node stops at §7.1 step 3 (self not in the list), before the wipe of step 5.
    const revokedAfter = await rotationStatus(revoked)
    expect(heldEpochs(revokedAfter)).not.toContain(1)
    console.log(`rotation/membership: revoked_node_held_after_retire=${JSON.stringify(heldEpochs(revokedAfter))} revoked_reason="${revokedAfter.node.unavailable_reason}"`)
  })
})
