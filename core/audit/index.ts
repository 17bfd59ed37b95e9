/**
 * The audit log (PROTOCOL §14): per-app hash chains of key releases and a chain of cluster
 * events. The entry hash and the head message are shared with client verifiers.
 *
 * @module
 */
export { AUDIT_GENESIS_HASH, computeAuditEntryHash } from './entryHash'
export { buildAuditHeadMessage } from './headMessage'
export {
  AuditLog,
  AuditSinceAheadError,
  MAX_AUDIT_CHAINS,
  MAX_AUDIT_ENTRIES_PER_CHAIN,
  MAX_AUDIT_ENTRIES_TOTAL,
  MAX_AUDIT_PAGE_ENTRIES,
  type AuditLogLimits,
  type UnsignedAuditPage,
} from './auditLog'
export { CLUSTER_CHAIN, type AuditChainId, type AuditEntry, type AuditHead, type AuditOp, type AuditPage } from './types'
