/**
 * Typed registry records and the reader interfaces (PROTOCOL §9.2). Numbers are JS numbers:
 * a value that is not a safe integer is a malformed result, never silently rounded.
 */
import type { Wallet } from '../encoding'

/** App status, uint8 on chain (PROTOCOL §9.2). */
export const APP_STATUS = { ACTIVE: 0, INACTIVE: 1, REVOKED: 2 } as const
/** Version status, uint8 on chain (PROTOCOL §9.2). */
export const VERSION_STATUS = { ENROLLED: 0, DEPRECATED: 1, REVOKED: 2 } as const
/** Instance status, uint8 on chain (PROTOCOL §9.2). */
export const INSTANCE_STATUS = { ACTIVE: 0, STOPPED: 1, FAILED: 2 } as const

export interface InstanceRecord {
  readonly instanceId: number
  readonly appId: number
  readonly versionId: number
  readonly operator: Wallet
  readonly instanceUrl: string
  /** Raw bytes as registered; may be empty or not a P-384 key (PROTOCOL §3.3 step 7). */
  readonly teePubkey: Uint8Array
  readonly teeWalletAddress: Wallet
  readonly zkVerified: boolean
  readonly status: number
  readonly registeredAt: number
}

export interface AppRecord {
  readonly appId: number
  readonly owner: Wallet
  /** bytes32 */
  readonly teeArch: Uint8Array
  readonly dappContract: Wallet
  readonly metadataUri: string
  readonly latestVersionId: number
  readonly createdAt: number
  readonly status: number
  readonly appWallet: Wallet
}

export interface VersionRecord {
  readonly versionId: number
  readonly versionName: string
  /** keccak256(PCR0‖PCR1‖PCR2), 32 bytes. */
  readonly codeMeasurement: Uint8Array
  readonly imageUri: string
  readonly auditUrl: string
  readonly auditHash: string
  readonly githubRunId: string
  readonly status: number
  readonly enrolledAt: number
  readonly enrolledBy: Wallet
}

/**
 * NovaAppRegistry reads (PROTOCOL §3.3, §7.2). `undefined` means "not found": a revert, a zero
 * `instanceId`, or an instance whose `teeWalletAddress` is not the wallet asked for.
 * A transport error, a timeout or an undecodable result (empty return data included) rejects
 * with `KmsError('registry_unavailable')`, never with "not found".
 */
export interface NovaAppRegistryReader {
  getInstanceByWallet(wallet: Wallet): Promise<InstanceRecord | undefined>
  getApp(appId: number): Promise<AppRecord | undefined>
  getVersion(appId: number, versionId: number): Promise<VersionRecord | undefined>
  /** The app's ACTIVE instance wallets, canonical, in registration order. */
  getActiveInstances(appId: number): Promise<Wallet[]>
}

/**
 * KMSRegistry reads (PROTOCOL §7.1). Every failure, reverts included, rejects with
 * `KmsError('registry_unavailable')`; the caller maps it to its readiness reason.
 */
export interface KmsRegistryReader {
  /** 32 bytes; all zero while no node has committed a secret. */
  masterSecretHash(): Promise<Uint8Array>
  isOperator(wallet: Wallet): Promise<boolean>
  getOperators(): Promise<Wallet[]>
  kmsAppId(): Promise<number>
}

/**
 * One custodian of a recovery policy (issue 15, PROTOCOL §9.1): the P-384 key its backup share
 * is sealed to, and the Ethereum address that approves or vetoes a policy change.
 */
export interface RecoveryCustodian {
  /** P-384 SubjectPublicKeyInfo DER, 120 bytes as the contract stores it; not yet validated as a point. */
  readonly sealingKeyDer: Uint8Array
  readonly approver: Wallet
}

/** A recovery policy: `threshold` of `custodians` rebuild the master secret. Ids start at 1. */
export interface RecoveryPolicy {
  readonly policyId: number
  /** 1 ≤ threshold ≤ custodians.length ≤ 16, as the contract enforces. */
  readonly threshold: number
  readonly custodians: readonly RecoveryCustodian[]
}

/** A published backup of one master-secret hash under one policy (`publishBackup`). */
export interface RecoveryBackup {
  readonly secretHash: Uint8Array
  readonly policyId: number
  readonly publisher: Wallet
  /** Block timestamp, seconds. */
  readonly publishedAt: number
  /** keccak256 of each plain share, in custodian order. */
  readonly shareCommitments: readonly Uint8Array[]
}

/**
 * KMSRegistry's recovery views (issue 15). `undefined` means "none": no active policy
 * (`recoveryPolicyId() == 0`), no such policy, or no backup for (hash, policy). Transport
 * errors, timeouts and undecodable results reject with `KmsError('registry_unavailable')`, so
 * that a node fails closed instead of reading an outage as "no backup".
 */
export interface KmsRecoveryReader {
  activeRecoveryPolicy(): Promise<RecoveryPolicy | undefined>
  recoveryPolicy(policyId: number): Promise<RecoveryPolicy | undefined>
  backup(secretHash: Uint8Array, policyId: number): Promise<RecoveryBackup | undefined>
  /** One custodian's sealed share and its commitment; `index` is the custodian's position. */
  sealedShare(
    secretHash: Uint8Array,
    policyId: number,
    index: number,
  ): Promise<{ readonly sealedShare: Uint8Array; readonly commitment: Uint8Array } | undefined>
}

/** One live cluster epoch as the chain records it (PROTOCOL §7.7, §9.1 "Key epochs"). */
export interface ChainEpoch {
  readonly epoch: number
  /** `masterSecretHashOf(epoch)`, 32 bytes; all zero while the epoch is not committed. */
  readonly hash: Uint8Array
  readonly retired: boolean
}

/**
 * What `node_tick` step 5 reads (§7.7): the current epoch and, when it is at least 1, the one
 * before it, newest first. Older epochs are retired by construction (at most two live).
 */
export interface ChainEpochs {
  readonly current: number
  readonly epochs: readonly ChainEpoch[]
}

/** An operator's `reportEpochMigrated` record (`migratedEpochOf`). */
export interface MigrationReport {
  readonly reported: boolean
  readonly epoch: number
}

/**
 * KMSRegistry's key-epoch views (issue 16). None of them reverts, so every failure, a revert
 * included, and every epoch number outside 0..2^32 − 1 rejects with
 * `KmsError('registry_unavailable')`: a node fails closed instead of guessing an epoch.
 * `undefined` means "none" only where the contract says so (a policy not bound yet).
 */
export interface KmsEpochReader {
  readEpochs(): Promise<ChainEpochs>
  /** The app's key epoch (§5.2 v2); 0 until its owner sets one. */
  appKeyEpoch(appId: number): Promise<number>
  /** Unix seconds at which `epoch` was opened (epoch 0: the deployment); 0 if not yet. */
  epochStartedAt(epoch: number): Promise<number>
  /**
   * The newest epoch `wallet` reported with `reportEpochMigrated`, as the contract returns it:
   * `reported` false (and `epoch` 0) if it never reported.
   */
  migratedEpochOf(wallet: Wallet): Promise<MigrationReport>
  /** The epoch a recovery policy's backups serve; `undefined` before its first backup. */
  recoveryPolicyEpoch(policyId: number): Promise<number | undefined>
  /** `RETIRE_GRACE_SECONDS`: from an epoch's start until its predecessor may be force-retired. */
  retireGraceSeconds(): Promise<number>
}
