/**
 * The string a node signs over a chain's head when it answers (PROTOCOL §14.4):
 * `NovaKMS:AuditHead:<app_id>:<seq>:<head_hash>:<dropped>:<tee_pubkey>:<wallet>`. It names
 * the node by both keys the registry lists, so a head handed to an auditor stands alone.
 */
import type { Wallet } from '../encoding'
import type { AuditChainId } from './types'

export function buildAuditHeadMessage(params: {
  appId: AuditChainId
  seq: number
  headHash: string
  dropped: number
  /** The node's own teePubkey, lowercase hex DER (as `/status`). */
  teePubkeyHex: string
  wallet: Wallet
}): string {
  const { appId, seq, headHash, dropped, teePubkeyHex, wallet } = params
  return `NovaKMS:AuditHead:${appId}:${seq}:${headHash}:${dropped}:${teePubkeyHex}:${wallet}`
}
