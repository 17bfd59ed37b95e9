/** `GET /nodes` (PROTOCOL §2.2) as the SDK reads it: a node's peer cache, shape-checked. */
import { parseWallet, type Wallet } from '../encoding'
import { withDefaultScheme, type DiscoveredKmsNode } from './discoverKmsNodes'

/** One entry of a node's `/nodes` (§2.2), as the SDK reads it. */
export interface KmsPeerListing {
  /** The instance's TEE wallet (the entry's `operator`, §2.2). */
  wallet: Wallet
  url: string
  instanceId: number
  /** The instance's operator account. */
  operator: Wallet
  zkVerified: boolean
  active: boolean
  /** Whether the node's last probe reached it; `null` outside enclave mode (§7.2). */
  reachable: boolean | null
  /** Whether the SDK's own registry read lists this wallet at this URL as an ACTIVE KMS instance. */
  inRegistry: boolean
}

/** The entries of a §2.2 answer (`count` must match), or `undefined` when it has not that shape. */
export function parsePeerListing(body: unknown, registered: readonly DiscoveredKmsNode[]): KmsPeerListing[] | undefined {
  if (typeof body !== 'object' || body === null) return undefined
  const { operators, count } = body as Record<string, unknown>
  if (!Array.isArray(operators) || operators.length !== count) return undefined
  const listing: KmsPeerListing[] = []
  for (const entry of operators as unknown[]) {
    const { instance, connection } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>
    const fields = (typeof instance === 'object' && instance !== null ? instance : {}) as Record<string, unknown>
    const probe = (typeof connection === 'object' && connection !== null ? connection : {}) as Record<string, unknown>
    const wallet = typeof fields['tee_wallet'] === 'string' ? parseWallet(fields['tee_wallet']) : undefined
    const operator = typeof fields['operator'] === 'string' ? parseWallet(fields['operator']) : undefined
    const url = fields['instance_url']
    const instanceId = fields['instance_id']
    const status = fields['instance_status'] as { name?: unknown } | null | undefined
    const reachable = probe['status_endpoint_reachable']
    if (wallet === undefined || operator === undefined || typeof url !== 'string' || typeof instanceId !== 'number' || typeof fields['zk_verified'] !== 'boolean') return undefined
    if (typeof status !== 'object' || status === null || (status.name !== 'ACTIVE' && status.name !== 'NON_ACTIVE')) return undefined
    if (reachable !== null && typeof reachable !== 'boolean') return undefined
    const inRegistry = registered.some((node) => node.wallet === wallet && node.url === withDefaultScheme(url))
    listing.push({ wallet, url, instanceId, operator, zkVerified: fields['zk_verified'], active: status.name === 'ACTIVE', reachable, inRegistry })
  }
  return listing
}
