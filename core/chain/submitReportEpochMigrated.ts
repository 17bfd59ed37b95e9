/** The third transaction a node sends: `reportEpochMigrated` (issue 16, PROTOCOL §7.7, §9.3). */
import { encodeFunctionData, type Hex } from 'viem'
import type { Wallet } from '../encoding'
import type { Tee } from '../tee'
import { requireWallet } from './_arguments'
import type { RpcClientParameters } from './_rpcClient'
import { sendNodeTransaction } from './_sendNodeTransaction'
import { kmsRegistryAbi } from './kmsRegistryAbi'

export interface SubmitReportEpochMigratedParameters extends RpcClientParameters {
  kmsRegistry: Wallet
  /** The current cluster epoch, which the node holds and has re-encrypted its store to. */
  epoch: number
  signer: Pick<Tee, 'getWallet' | 'signTransaction'>
}

/**
 * The gas cap. The call reads the operator slot, `currentEpoch` and the epoch's hash (cold
 * SLOADs, 2,100 each), writes one slot (at most a fresh 22,100) and logs two topics: ≈ 50 k
 * with the 21 k base. The limit sent is the estimate plus 25 %, never above this cap.
 */
export const REPORT_EPOCH_MIGRATED_GAS_CAP = 200_000n

/**
 * Builds, signs and sends `reportEpochMigrated(epoch)` as `submitPublishBackup` does
 * (EIP-1559, `maxFeePerGas = 2·baseFee(latest) + priority`, the pending nonce), simulated
 * first with `eth_call` from the node's wallet so that a refusal (`NotOperator`,
 * `NotCurrentEpoch`, `EpochNotCommitted`) costs no gas. Gas: `eth_estimateGas` × 1.25, capped
 * at REPORT_EPOCH_MIGRATED_GAS_CAP. The contract call is idempotent, so a resend after a lost
 * transaction is harmless.
 * @returns the transaction hash; inclusion is not awaited.
 * @throws KmsError `service_unavailable` (`failed to report epoch migrated`); its `details`
 * names the step and, when the contract refused, the error (`reverted with NotCurrentEpoch`);
 * RangeError for an epoch outside 0..2^32 − 1.
 */
export async function submitReportEpochMigrated(parameters: SubmitReportEpochMigratedParameters): Promise<Hex> {
  const { epoch, signer } = parameters
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) {
    throw new RangeError(`epoch: expected an integer in 0..2^32 - 1, got ${String(epoch)}`)
  }
  const to = requireWallet(parameters.kmsRegistry, 'kmsRegistry')
  const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: 'reportEpochMigrated', args: [BigInt(epoch)] })

  return sendNodeTransaction({
    ...parameters,
    to,
    data,
    functionName: 'reportEpochMigrated',
    gas: { cap: REPORT_EPOCH_MIGRATED_GAS_CAP },
    signer,
    failureMessage: 'failed to report epoch migrated',
  })
}
