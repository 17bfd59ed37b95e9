/**
 * Drives `node_tick` and `sync_tick` for a node (PROTOCOL §7.1, §7.4): the wiring from a
 * `KmsNode`'s collaborators to the tick logic in `core/cluster`. Workers call this from
 * `scheduled()`, the Node bootstrap from a timer, tests explicitly.
 *
 * @module
 */
import { decodeNitroAttestationUnverified, matchesAwsRootPin } from './attestation'
import { isBackupAlreadyPublished, submitPublishBackup, submitSetMasterSecretHash } from './chain'
import { probePeers, runNodeTick, runSyncTick, type TickName } from './cluster'
import type { KmsNode } from './node'

export function nodeTick(node: KmsNode): Promise<void> {
  return node.ticks.run('node_tick', () =>
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
      log: node.log,
    }),
  )
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
