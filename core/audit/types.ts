/**
 * The audit log's shapes (PROTOCOL §14.2, §14.4).
 *
 * @module
 */
import type { Wallet } from '../encoding'

/** The chain of cluster events has this in place of an app id (§14.1). */
export const CLUSTER_CHAIN = 'cluster'
export type AuditChainId = number | typeof CLUSTER_CHAIN

/** What an app operation or a cluster event records (§14.2): the op and its own members. */
export type AuditOp =
  | { op: 'derive'; path: string; context: string; length: number; epoch: { cluster: number; app: number } }
  | { op: 'data_get'; key: string }
  | { op: 'data_list'; count: number }
  | { op: 'data_put'; key: string }
  | { op: 'data_delete'; key: string }
  | { op: 'sign_cert'; serial: string; not_after_s: number }
  | { op: 'secret_sent'; peer: Wallet; epoch: number }
  | { op: 'snapshot_sent'; peer: Wallet }
  | { op: 'recovery_share_received'; custodian: number; policy_id: number }
  | { op: 'epoch_serving'; epoch: number }
  | { op: 'epoch_wiped'; epoch: number }

/** One entry as it is hashed (§14.2): every member present, nothing else. */
export type AuditEntry = AuditOp & {
  seq: number
  boot: string
  app_id: AuditChainId
  request_id: string
  at_ms: number
}

/** A chain's head (§14.1): the last entry's seq and hash, and how many entries it dropped. */
export interface AuditHead {
  seq: number
  hash: string
  dropped: number
}

/** The inner answer of `GET /kms/audit` and the body of `GET /audit/cluster` (§14.4). */
export interface AuditPage {
  app_id: AuditChainId
  boot: string
  since: number
  prev_hash: string
  entries: (AuditEntry & { hash: string })[]
  head: AuditHead
  head_signature: `0x${string}`
  more: boolean
}
