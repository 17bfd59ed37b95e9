/**
 * `core/recovery`: m-of-n custodian backup and recovery of the master secret (PROTOCOL §7.6,
 * issue 15). Shamir over GF(2^8) compatible with `shamir-secret-sharing`, the sealed
 * on-chain shares, the `POST /recovery/share` submission and receipt for both sides, and the
 * awaiting node's share collector.
 *
 * @module
 */
export { splitSecret, combineShares, SHAMIR_MAX_SHARES } from './shamir'
export { RECOVERY_SHARE_LENGTH, type RecoveryShareBinding } from './_fields'
export {
  sealRecoveryShare,
  recoverySharePlaintext,
  RECOVERY_SHARE_INFO,
  SEALED_SHARE_HEADER_LENGTH,
} from './sealRecoveryShare'
export { openRecoveryShare } from './openRecoveryShare'
export {
  buildRecoveryShareSubmission,
  openRecoveryShareReceipt,
  parseRecoveryShareSubmission,
  verifyRecoveryShareSignature,
  recoverySubmissionSignedMessage,
  recoveryShareCommitment,
  recoveryShareReceiptPlaintext,
  RECOVERY_SUBMISSION_SIGNATURE_PREFIX,
  type RecoveryShareSubmission,
  type RecoveryShareReceipt,
} from './submission'
export { RecoveryShareCollector, type CollectorAddResult } from './shareCollector'
export { RecoveryProgress, BACKUP_RESUBMIT_TICKS, type AwaitingRecovery } from './recoveryProgress'
