/** `GET /status` (PROTOCOL §2.1): identity, readiness, cluster and store figures. */
import { bytesToHex } from '../core/encoding'
import { jsonResponse, type KmsFunction } from './_http'

export const status: KmsFunction = async (_request, node) => {
  const teePubkey = await node.tee.getEncryptionPublicKey().then(bytesToHex, () => '')
  const stats = node.store.stats()
  return jsonResponse({
    node: {
      tee_wallet: node.wallet ?? '',
      tee_pubkey: teePubkey,
      node_url: node.identity.instanceUrl,
      is_operator: node.readiness.isOperator,
      service_available: node.readiness.available,
      unavailable_reason: node.readiness.reason,
      mode: node.config.mode,
      version: node.version,
      master_secret: { state: node.secret.state, synced_from: node.secret.syncedFrom },
      master_secret_initialized: node.secret.installed !== undefined,
    },
    cluster: {
      kms_app_id: node.config.kmsAppId,
      registry_address: node.config.kmsRegistryAddress,
      total_instances: node.peers.peers.length,
    },
    data_store: { namespaces: stats.namespaces, total_keys: stats.total_keys, total_bytes: stats.total_bytes },
  })
}
