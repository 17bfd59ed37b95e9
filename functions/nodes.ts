/** `GET /nodes` (PROTOCOL §2.2): the peer cache, one entry per cached KMS instance. */
import { INSTANCE_STATUS } from '../core/chain'
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const nodes = defineFunction(
  { name: 'nodes', routes: [{ path: '/nodes', methods: ['GET', 'HEAD'] }], gate: 'none', limiter: 'client', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'peers'>) => {
    const operators = node.peers.peers.map((peer) => {
      const { instance, probe } = peer
      const active = instance.status === INSTANCE_STATUS.ACTIVE
      const status = { value: instance.status, name: active ? 'ACTIVE' : 'NON_ACTIVE' }
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
  },
)
