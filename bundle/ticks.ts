/**
 * Drives `node_tick` and `sync_tick` for a node (PROTOCOL §7.1, §7.4). `scheduled()` calls
 * this; the Node bootstrap calls it from a timer, tests call it explicitly.
 */
import { probePeers, runNodeTick, runSyncTick, type TickName } from '../core/cluster'
import type { KmsNode } from '../core/node'

export function nodeTick(node: KmsNode): Promise<void> {
  return node.ticks.run('node_tick', () =>
    runNodeTick({
      mode: node.config.mode,
      tee: node.tee,
      random: node.random,
      sleep: node.sleep,
      peers: node.peers,
      secret: node.secret,
      readiness: node.readiness,
      readMasterSecretHash: () => node.chain.kmsRegistry.masterSecretHash(),
      submitMasterSecretHash: (hash) => node.submitMasterSecretHash(hash),
      peerSecrets: node.syncClient,
      clearStore: () => node.store.clear(),
      identity: node.identity,
      snapshotMerged: node.snapshotMerged,
      probePeers: () => probePeers(node.peers, node.fetch, node.clock),
      log: (level, message, fields) => node.log(level, message, fields),
    }),
  )
}

export function syncTick(node: KmsNode): Promise<void> {
  return node.ticks.run('sync_tick', async () => {
    await runSyncTick({
      readiness: node.readiness,
      hasSyncKey: node.secret.installed !== undefined,
      peers: node.peers,
      store: node.store,
      client: node.syncClient,
      clock: node.clock,
      ownWallet: node.wallet,
      watermarks: node.watermarks,
      // The envelope doubles the payload (hex), plus a little framing.
      maxSyncPayloadBytes: Math.max(1024, Math.floor(node.config.maxSyncPayloadBytes / 2) - 4096),
      recordPush: (peer, result) => node.metrics.recordSyncPush(peer.wallet, result),
      log: (level, message, fields) => node.log(level, message, fields),
    })
  })
}

/** Runs `forced`, or whatever is due. */
export async function runDueTicks(node: KmsNode, forced?: TickName): Promise<void> {
  if (forced === 'node_tick' || (forced === undefined && node.ticks.isDue('node_tick'))) await nodeTick(node)
  if (forced === 'sync_tick' || (forced === undefined && node.ticks.isDue('sync_tick'))) await syncTick(node)
}
