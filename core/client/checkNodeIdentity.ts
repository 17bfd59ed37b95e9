/**
 * The runtime's identity binding (RUNTIME.md §1 "Identity binding"): before it trusts a node,
 * its `GET /status` must name the registry identity.
 */
import { bytesToHex, parseWallet } from '../encoding'
import type { DiscoveredKmsNode } from './discoverKmsNodes'

export type NodeIdentityCheck = { matches: true } | { matches: false; reason: string }

function field(record: unknown, key: string): unknown {
  return typeof record === 'object' && record !== null ? (record as Record<string, unknown>)[key] : undefined
}

/**
 * Checks a `/status` body against the registry:
 * - `node.tee_wallet` is the registry wallet (as an address, so any hex case);
 * - `node.tee_pubkey` without a leading `0x` equals the registry teePubkey as lowercase hex,
 *   compared **case-sensitively**, as the runtime does: an uppercase `/status` fails.
 */
export function checkNodeIdentity(status: unknown, node: Pick<DiscoveredKmsNode, 'wallet' | 'teePubkeyDer'>): NodeIdentityCheck {
  const self = field(status, 'node')
  const wallet = field(self, 'tee_wallet')
  const pubkey = field(self, 'tee_pubkey')
  if (typeof wallet !== 'string' || typeof pubkey !== 'string') return { matches: false, reason: 'status has no tee_wallet/tee_pubkey' }
  if (parseWallet(wallet) !== node.wallet) return { matches: false, reason: 'status tee_wallet is not the registry wallet' }
  const hex = pubkey.startsWith('0x') ? pubkey.slice(2) : pubkey
  if (hex !== bytesToHex(node.teePubkeyDer)) return { matches: false, reason: 'status tee_pubkey is not the registry teePubkey' }
  return { matches: true }
}
