/** The second transaction a node sends: `publishBackup` (issue 15, PROTOCOL §9.3). */
import { bytesToHex, encodeFunctionData, type Hex } from 'viem'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Tee } from '../tee'
import { requireWallet } from './_arguments'
import type { RpcClientParameters } from './_rpcClient'
import { sendNodeTransaction } from './_sendNodeTransaction'
import { kmsRegistryAbi } from './kmsRegistryAbi'

export interface SubmitPublishBackupParameters extends RpcClientParameters {
  kmsRegistry: Wallet
  /** The on-chain master-secret hash, 32 bytes. */
  secretHash: Uint8Array
  /** One sealed share per custodian of the active policy, in custodian order, 1..1024 bytes. */
  sealedShares: readonly Uint8Array[]
  /** keccak256 of each plain share, 32 bytes each, same order. */
  shareCommitments: readonly Uint8Array[]
  signer: Pick<Tee, 'getWallet' | 'signTransaction'>
}

/**
 * The gas cap. The worst case, 16 shares of 1024 bytes, stores 16 × (32 words + a length
 * slot) + 16 commitments + the array lengths and the header ≈ 550 fresh slots at 22,100 gas
 * (EIP-2929 cold SSTORE) ≈ 12.2 M, plus ≈ 0.3 M of calldata: 14 M covers it with room and
 * stays under a 30 M block. The limit sent is the estimate plus 25 %, never above this cap.
 */
export const PUBLISH_BACKUP_GAS_CAP = 14_000_000n

/** Thrown `details` starts with this when another node's backup won the race (not alarming). */
export const BACKUP_ALREADY_PUBLISHED = 'BackupAlreadyPublished'

/**
 * Builds, signs and sends `publishBackup` as `submitSetMasterSecretHash` does (EIP-1559,
 * `maxFeePerGas = 2·baseFee(latest) + priority`, the pending nonce), simulated first with
 * `eth_call` from the node's wallet. Gas: `eth_estimateGas` × 1.25, capped at
 * PUBLISH_BACKUP_GAS_CAP (a fixed 14 M limit would reserve 14 M × maxFee of balance for a
 * 3-custodian backup that needs ~1 M).
 * @returns the transaction hash; inclusion is not awaited.
 * @throws KmsError `service_unavailable` (`failed to publish backup`); its `details` names the
 * step and, when the contract refused, the error (`reverted with BackupAlreadyPublished`:
 * another node won, see `isBackupAlreadyPublished`).
 */
export async function submitPublishBackup(parameters: SubmitPublishBackupParameters): Promise<Hex> {
  const { secretHash, sealedShares, shareCommitments, signer } = parameters
  if (!(secretHash instanceof Uint8Array) || secretHash.length !== 32) throw new RangeError('secretHash: expected 32 bytes')
  if (sealedShares.length < 1 || sealedShares.length > 16 || sealedShares.length !== shareCommitments.length) {
    throw new RangeError('sealedShares, shareCommitments: expected 1..16 of each, as many of one as of the other')
  }
  for (const share of sealedShares) {
    if (!(share instanceof Uint8Array) || share.length < 1 || share.length > 1024) {
      throw new RangeError('sealedShares: each 1..1024 bytes')
    }
  }
  for (const commitment of shareCommitments) {
    if (!(commitment instanceof Uint8Array) || commitment.length !== 32) throw new RangeError('shareCommitments: each 32 bytes')
  }
  const to = requireWallet(parameters.kmsRegistry, 'kmsRegistry')
  const data = encodeFunctionData({
    abi: kmsRegistryAbi,
    functionName: 'publishBackup',
    args: [bytesToHex(secretHash), sealedShares.map((share) => bytesToHex(share)), shareCommitments.map((c) => bytesToHex(c))],
  })

  return sendNodeTransaction({
    ...parameters,
    to,
    data,
    functionName: 'publishBackup',
    gas: { cap: PUBLISH_BACKUP_GAS_CAP },
    signer,
    failureMessage: 'failed to publish backup',
  })
}

/** True when `error` says another node's backup for (hash, policy) already won. */
export function isBackupAlreadyPublished(error: unknown): boolean {
  return error instanceof KmsError && error.details !== undefined && error.details.endsWith(`reverted with ${BACKUP_ALREADY_PUBLISHED}`)
}
