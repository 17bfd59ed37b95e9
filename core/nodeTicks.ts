/**
 * Drives `node_tick` and `sync_tick` for a node (PROTOCOL §7.1, §7.4): the wiring from a
 * `KmsNode`'s collaborators to the tick logic in `core/cluster`. Workers call this from
 * `scheduled()`, the Node bootstrap from a timer, tests explicitly.
 *
 * @module
 */
import { decodeNitroAttestationUnverified, matchesAwsRootPin } from './attestation'
import { isBackupAlreadyPublished, submitPublishBackup, submitReportEpochMigrated, submitSetMasterSecretHash } from './chain'
import { CLUSTER_CHAIN } from './audit'
import { probePeers, runNodeTick, runSyncTick, type TickName } from './cluster'
import { bytesToHex } from './encoding'
import type { KmsNode } from './node'

export function nodeTick(node: KmsNode): Promise<void> {
  return node.ticks.run('node_tick', () => auditEpochChanges(node, () => runNodeTickOnce(node)))
}

/**
 * §14.2: the cluster chain records the epoch the node starts to serve on and each epoch it
 * wipes, as seen across one tick (the tick itself stays free of the log).
 */
async function auditEpochChanges(node: KmsNode, tick: () => Promise<void>): Promise<void> {
  const wipedBefore = node.epochStatus.wiped.length
  try {
    await tick()
  } finally {
    const requestId = node.audit.newRequestId()
    for (const epoch of node.epochStatus.wiped.slice(wipedBefore)) node.audit.append(CLUSTER_CHAIN, requestId, { op: 'epoch_wiped', epoch })
    // Against the epoch last logged, not the one before this tick: a secret preloaded or
    // installed between ticks is logged by the first tick that sees it served.
    const serving = node.keys.servingEpoch
    if (serving !== undefined && serving !== auditedServingEpoch.get(node)) {
      auditedServingEpoch.set(node, serving)
      node.audit.append(CLUSTER_CHAIN, requestId, { op: 'epoch_serving', epoch: serving })
    }
  }
}

/** The serving epoch each node last logged (§14.2 `epoch_serving`). */
const auditedServingEpoch = new WeakMap<KmsNode, number>()

function runNodeTickOnce(node: KmsNode): Promise<void> {
  return (
    runNodeTick({
      mode: node.config.mode,
      tee: node.tee,
      random: node.random,
      sleep: node.sleep,
      peers: node.peers,
      keys: node.keys,
      readiness: node.readiness,
      readMasterSecretHash: () => node.chain.kmsRegistry.masterSecretHash(),
      // §9.3: the transaction goes through the TEE signer.
      submitMasterSecretHash: async (hash) => {
        await submitSetMasterSecretHash({
          rpcUrl: node.config.chainRpcUrl,
          kmsRegistry: node.config.kmsRegistryAddress,
          hash,
          signer: node.tee,
          fetch: node.fetch,
        })
      },
      peerSecrets: node.syncClient,
      clearStore: () => node.store.clear(),
      identity: node.identity,
      snapshotMerged: node.snapshotMerged,
      probePeers: () => probePeers(node.peers, node.fetch, node.clock),
      ...(node.testBuild && node.config.mode === 'enclave' ? { ownAttestationRoot: () => ownAttestationRoot(node) } : {}),
      recovery: {
        reader: node.recoveryReader,
        progress: node.recovery,
        buildBackup: async (policy) =>
          node.keys.buildRecoveryBackup({ policy, chainId: await node.chainId(), kmsRegistry: node.config.kmsRegistryAddress, random: node.random }),
        // §9.3: like setMasterSecretHash, through the TEE signer.
        publishBackup: async (backup) => {
          await submitPublishBackup({
            rpcUrl: node.config.chainRpcUrl,
            kmsRegistry: node.config.kmsRegistryAddress,
            secretHash: backup.secretHash,
            sealedShares: backup.sealedShares,
            shareCommitments: backup.shareCommitments,
            signer: node.tee,
            fetch: node.fetch,
          })
        },
        isAlreadyPublished: isBackupAlreadyPublished,
      },
      epochs: {
        readEpochs: () => node.epochReader.readEpochs(),
        dropRecordsBelowEpoch: (epoch) => {
          const dropped = node.store.dropRecordsBelowEpoch(epoch)
          if (dropped > 0) node.log('warn', 'dropped records under a wiped epoch', { below_epoch: epoch, dropped })
        },
        afterServing: (epoch) => reportMigrationIfDone(node, epoch),
        status: node.epochStatus,
      },
      log: node.log,
    })
  )
}

/** Ticks to wait before sending a migration report again that was sent but is not yet seen on chain. */
const MIGRATION_RESEND_TICKS = 10

/**
 * §7.7: once no record below the current epoch c is left, `reportEpochMigrated(c)` through the
 * TEE signer, once. The chain is read first, so a restarted node does not pay for a report it
 * made before; a failure is logged and tried again after MIGRATION_RESEND_TICKS ticks. It
 * never makes the node unavailable.
 */
async function reportMigrationIfDone(node: KmsNode, epoch: number): Promise<void> {
  const report = node.migrationReport
  report.ticks++
  const hash = node.keys.hashOf(epoch)
  if (hash === undefined) return
  // A report counts on chain only for the hash it was made under (an owner reset and another
  // commit in the same epoch needs a new one), so this process remembers both.
  const reportKey = `${epoch}:${bytesToHex(hash)}`
  if (report.reportedKey === reportKey) return
  if (node.store.recordsBelowEpoch(epoch) > 0) return
  const wallet = node.wallet
  if (wallet === undefined) return
  if (report.attemptedAtTick !== undefined && report.ticks - report.attemptedAtTick < MIGRATION_RESEND_TICKS) return
  try {
    if (report.reportedKey === undefined) {
      // A restarted node: a report it made before this process needs no second transaction.
      const onChain = await node.epochReader.migratedEpochOf(wallet)
      if (onChain.reported && onChain.epoch >= epoch) {
        report.reported = onChain.epoch
        report.reportedKey = reportKey
        return
      }
    }
    report.attemptedAtTick = report.ticks
    await submitReportEpochMigrated({ rpcUrl: node.config.chainRpcUrl, kmsRegistry: node.config.kmsRegistryAddress, epoch, signer: node.tee, fetch: node.fetch })
    report.reported = epoch
    report.reportedKey = reportKey
    node.log('info', 'reported the store re-encrypted to the current epoch', { epoch })
  } catch (error) {
    node.log('warn', 'reportEpochMigrated failed; tried again on a later tick', { epoch, error: error instanceof Error ? error.message : String(error) })
  }
}

/** §6.10: records moved to the serving epoch's data key per sync tick, bounding its CPU. */
export const REENCRYPT_RECORDS_PER_TICK = 2048

/**
 * One bounded step of re-encryption (§6.10, §7.7): while the serving epoch is newer than some
 * stored record's, move up to REENCRYPT_RECORDS_PER_TICK of them to it. Reads work
 * throughout: a record not yet moved opens under the epoch it names.
 */
async function reencryptStep(node: KmsNode): Promise<void> {
  const target = node.keys.servingEpoch
  if (target === undefined || target === 0 || !node.readiness.available) return
  if (node.store.recordsBelowEpoch(target) === 0) return
  const result = await node.store.reencryptBatch(
    {
      targetEpoch: target,
      limit: REENCRYPT_RECORDS_PER_TICK,
      reencrypt: (appId, record) => node.keys.reencryptValue(appId, record.ciphertext, record.keyEpoch, target),
    },
    // The §6.8 journal keeps what it still owes a peer under the new value.
    { reencrypted: (appId, previous, record) => node.watermarks.reencrypted(appId, previous, record) },
  )
  node.metrics.recordReencryption(result)
  if (result.failed > 0) node.log('warn', 'some records could not be re-encrypted', { target_epoch: target, failed: result.failed, remaining: result.remaining })
}

/** The test build's check (§4.5): the root of this node's own document, without verifying it. */
async function ownAttestationRoot(node: KmsNode): Promise<'dev' | 'aws' | 'unreadable'> {
  // Checked once, then remembered: a helper's root does not change under a running node.
  if (node.ownAttestationDevRooted.value) return 'dev'
  let root: Uint8Array | undefined
  try {
    root = decodeNitroAttestationUnverified(await node.tee.getAttestation({ nonce: node.random.bytes(32) })).cabundle[0]
  } catch (error) {
    node.log('warn', 'cannot read own attestation', { error: error instanceof Error ? error.message : String(error) })
    return 'unreadable'
  }
  if (root === undefined) return 'unreadable'
  if (matchesAwsRootPin(root)) {
    node.log('error', 'the test build refuses to serve: its own attestation chains to the AWS root')
    return 'aws'
  }
  node.ownAttestationDevRooted.value = true
  return 'dev'
}

export function syncTick(node: KmsNode): Promise<void> {
  return node.ticks.run('sync_tick', async () => {
    await reencryptStep(node)
    await runSyncTick({
      readiness: node.readiness,
      hasSyncKey: node.keys.isInstalled,
      peers: node.peers,
      store: node.store,
      client: node.syncClient,
      clock: node.clock,
      ownWallet: node.wallet,
      watermarks: node.watermarks,
      // The envelope doubles the payload (hex), plus a little framing.
      maxSyncPayloadBytes: Math.max(1024, Math.floor(node.config.maxSyncPayloadBytes / 2) - 4096),
      recordPush: (peer, result) => node.metrics.recordSyncPush(peer.wallet, result),
      log: node.log,
    })
  })
}

/**
 * Runs `forced`, or whatever is due and not already running. A due tick still running from an
 * earlier call is passed over rather than joined, so that one stuck tick (a sync_tick waiting
 * out a hanging peer) never holds node_tick, and so readiness, back. sync_tick does wait for a
 * running node_tick, whose peer cache and readiness it uses, as it always has. A forced tick
 * joins a running one.
 */
export async function runDueTicks(node: KmsNode, forced?: TickName): Promise<void> {
  const due = (tick: TickName, available?: boolean): boolean => forced === undefined && !node.ticks.isRunning(tick) && node.ticks.isDue(tick, available)
  if (forced === 'node_tick' || due('node_tick', node.readiness.available)) await nodeTick(node)
  if (forced === 'sync_tick' || (due('sync_tick') && !node.ticks.isRunning('node_tick'))) await syncTick(node)
}
