/**
 * Drives `node_tick` and `sync_tick` for a node (PROTOCOL §7.1, §7.4): the wiring from a
 * `KmsNode`'s collaborators to the tick logic in `core/cluster`. Workers call this from
 * `scheduled()`, the Node bootstrap from a timer, tests explicitly.
 *
 * @module
 */
import { submitSetMasterSecretHash } from './chain'
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
      log: node.log,
    }),
  )
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

/** Runs `forced`, or whatever is due. */
export async function runDueTicks(node: KmsNode, forced?: TickName): Promise<void> {
  if (forced === 'node_tick' || (forced === undefined && node.ticks.isDue('node_tick'))) await nodeTick(node)
  if (forced === 'sync_tick' || (forced === undefined && node.ticks.isDue('sync_tick'))) await syncTick(node)
}
