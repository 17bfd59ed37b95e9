/** `GET /status` (PROTOCOL §2.1): identity, readiness, cluster and store figures. */
import { bytesToHex } from '../core/encoding'
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

type StatusView = Pick<KmsNode, 'tee' | 'identity' | 'readiness' | 'config' | 'version' | 'keys' | 'peers' | 'store'> &
  Partial<Pick<KmsNode, 'recovery' | 'epochStatus' | 'migrationReport'>>

/**
 * §2.1 `epochs` (§7.7): what the chain names, what this node holds (each secret's keccak256,
 * public on chain anyway), and how far re-encryption has come.
 */
function epochsStatus(node: StatusView): Record<string, unknown> {
  const status = node.epochStatus
  const serving = node.keys.servingEpoch
  const remaining = serving === undefined ? 0 : node.store.recordsBelowEpoch(serving)
  return {
    epochs: {
      current: status?.current ?? 0,
      serving: serving ?? null,
      live: status?.live ?? [],
      held: node.keys.heldEpochs.map((epoch) => ({ epoch, hash: `0x${bytesToHex(node.keys.hashOf(epoch)!)}` })),
      missing: status?.missing ?? [],
      awaiting_commit: status?.awaitingCommit ?? null,
      wiped: status?.wiped ?? [],
      reencryption: { target_epoch: serving ?? null, records_remaining: remaining, done: remaining === 0 },
      migration_reported: node.migrationReport?.reported ?? null,
    },
  }
}

/** §2.1 `recovery`: present only while the node awaits (or has just rebuilt) from custodian shares (§7.6). */
function recoveryStatus(node: StatusView): Record<string, unknown> {
  const awaiting = node.recovery?.awaiting
  if (awaiting === undefined) return {}
  const { policy, collector } = awaiting
  return {
    recovery: {
      state: node.keys.matches(awaiting.secretHash) ? 'recovered' : 'awaiting',
      policy_id: policy.policyId,
      threshold: policy.threshold,
      received: collector.received,
      custodians: policy.custodians.map((custodian, index) => ({ index, approver: custodian.approver, answered: collector.has(index) })),
      last_combine_error: collector.lastCombineError,
    },
  }
}

/**
 * The teePubkey exactly as the node's registry entry holds it (DER or SEC1), so that the
 * runtime's case-sensitive hex comparison (RUNTIME.md §1) matches; before the node finds
 * itself in the registry, the helper's DER.
 */
async function registeredTeePubkey(node: StatusView): Promise<string> {
  const wallet = node.identity.wallet
  const registered = wallet === undefined ? undefined : node.peers.find(wallet)?.instance.teePubkey
  if (registered !== undefined && registered.length > 0) return bytesToHex(registered)
  return node.tee.getEncryptionPublicKey().then(bytesToHex, () => '')
}

export const status = defineFunction(
  { name: 'status', routes: [{ path: '/status', methods: ['GET', 'HEAD'] }], gate: 'none', limiter: 'client', bodyLimit: 'request' },
  async (_request, node: StatusView) => {
    const stats = node.store.stats()
    return jsonResponse({
      node: {
        tee_wallet: node.identity.wallet ?? '',
        tee_pubkey: await registeredTeePubkey(node),
        node_url: node.identity.instanceUrl,
        is_operator: node.readiness.isOperator,
        service_available: node.readiness.available,
        unavailable_reason: node.readiness.reason,
        mode: node.config.mode,
        version: node.version,
        master_secret: { state: node.keys.state, synced_from: node.keys.syncedFrom },
        master_secret_initialized: node.keys.isInstalled,
      },
      cluster: {
        kms_app_id: node.config.kmsAppId,
        registry_address: node.config.kmsRegistryAddress,
        total_instances: node.peers.peers.length,
      },
      data_store: { namespaces: stats.namespaces, total_keys: stats.total_keys, total_bytes: stats.total_bytes },
      ...epochsStatus(node),
      ...recoveryStatus(node),
    })
  },
)
