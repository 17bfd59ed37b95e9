/**
 * `core/chain`: typed readers for NovaAppRegistry and KMSRegistry (PROTOCOL §9.1, §9.2), the
 * read-through registry cache of §3.3, and the node's three transactions (§9.3):
 * `setMasterSecretHash`, `publishBackup` and `reportEpochMigrated`.
 * Reads are plain `eth_call`s through a small JSON-RPC client and ABI codec over the
 * injected `fetch` (no viem, so the app SDK stays small); the transactions use viem's
 * fetch-based http transport. Both run unchanged in Node, workerd and browsers.
 *
 * @module
 */
export {
  APP_STATUS,
  VERSION_STATUS,
  INSTANCE_STATUS,
  type InstanceRecord,
  type AppRecord,
  type VersionRecord,
  type NovaAppRegistryReader,
  type KmsRegistryReader,
  type KmsRecoveryReader,
  type RecoveryCustodian,
  type RecoveryPolicy,
  type RecoveryBackup,
  type ChainEpoch,
  type ChainEpochs,
  type KmsEpochReader,
  type MigrationReport,
} from './types'
export { novaAppRegistryAbi } from './novaAppRegistryAbi'
export { kmsRegistryAbi } from './kmsRegistryAbi'
export { RPC_TIMEOUT_MS, createRpcClient, type ChainRpc, type RpcClientParameters } from './_rpcClient'
export { createChainReaders, type ChainReaders, type CreateChainReadersParameters } from './createChainReaders'
export {
  createCachedRegistry,
  REVOCATION_BOUND_SECONDS,
  FOUND_TTL_CAP_SECONDS,
  NOT_FOUND_TTL_CAP_SECONDS,
  DEFAULT_MAX_CACHE_ENTRIES,
  NODE_REFRESH_AHEAD_SECONDS,
  type CachedRegistry,
  type CreateCachedRegistryOptions,
} from './createCachedRegistry'
export {
  submitSetMasterSecretHash,
  SET_MASTER_SECRET_HASH_GAS,
  type SubmitSetMasterSecretHashParameters,
} from './submitSetMasterSecretHash'
export { createKmsRecoveryReader, type CreateKmsRecoveryReaderParameters } from './createKmsRecoveryReader'
export {
  submitPublishBackup,
  isBackupAlreadyPublished,
  PUBLISH_BACKUP_GAS_CAP,
  BACKUP_ALREADY_PUBLISHED,
  type SubmitPublishBackupParameters,
} from './submitPublishBackup'
export { createKmsEpochReader, type CreateKmsEpochReaderParameters } from './createKmsEpochReader'
export { countReadFailures } from './countReadFailures'
export {
  submitReportEpochMigrated,
  REPORT_EPOCH_MIGRATED_GAS_CAP,
  type SubmitReportEpochMigratedParameters,
} from './submitReportEpochMigrated'
