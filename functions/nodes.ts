/** `GET /nodes` (PROTOCOL §2.2): the peer cache, one entry per cached KMS instance. */
import { jsonResponse, type KmsFunction } from './_http'

export const nodes: KmsFunction = async (_request, node) => {
  const operators = node.peers.peers.map((peer) => {
    const { instance, probe } = peer
    const status = { value: instance.status, name: instance.status === 0 ? 'ACTIVE' : 'NON_ACTIVE' }
    return {
      operator: peer.wallet,
      instance: {
        instance_id: instance.instanceId,
        app_id: instance.appId,
        version_id: instance.versionId,
        operator: instance.operator.toLowerCase(),
        instance_url: instance.instanceUrl,
        tee_wallet: instance.teeWalletAddress,
        zk_verified: instance.zkVerified,
        instance_status: status,
        registered_at: instance.registeredAt,
      },
      connection: {
        in_peer_cache: true,
        cached_status: status.name,
        status_endpoint_reachable: probe?.reachable ?? null,
        status_endpoint_http_code: probe?.httpCode ?? null,
        status_probe_ms: probe?.probeMs ?? null,
        status_checked_at_ms: probe?.checkedAtMs ?? null,
      },
    }
  })
  return jsonResponse({ operators, count: operators.length })
}
