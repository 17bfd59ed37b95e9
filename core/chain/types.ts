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
