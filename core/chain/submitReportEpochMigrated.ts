/** The third transaction a node sends: `reportEpochMigrated` (issue 16, PROTOCOL §7.7, §9.3). */
import { encodeFunctionData, hexToBigInt, type Hex } from 'viem'
import { call, estimateGas, getBlock, getChainId, getTransactionCount, sendRawTransaction } from 'viem/actions'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Eip1559Transaction, Tee } from '../tee'
import { requireWallet } from './_arguments'
import { describeTransactionError } from './_describeTransactionError'
import { createRpcClient, type RpcClientParameters } from './_rpcClient'
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
  const client = createRpcClient(parameters)
  const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: 'reportEpochMigrated', args: [BigInt(epoch)] })

  let step = 'read the node wallet'
  try {
    const wallet = await signer.getWallet()
    step = 'simulate reportEpochMigrated'
    await call(client, { account: wallet, to, data, gas: REPORT_EPOCH_MIGRATED_GAS_CAP })
    step = 'read chain id, fees, nonce and gas'
    const [chainId, priorityHex, latest, nonce, estimate] = await Promise.all([
      getChainId(client),
      client.request({ method: 'eth_maxPriorityFeePerGas' }),
      getBlock(client, { blockTag: 'latest' }),
      getTransactionCount(client, { address: wallet, blockTag: 'pending' }),
      estimateGas(client, { account: wallet, to, data }),
    ])
    if (latest.baseFeePerGas === null) throw new Error('the latest block has no baseFeePerGas (not EIP-1559)')
    const withMargin = (estimate * 5n) / 4n
    const maxPriorityFeePerGas = hexToBigInt(priorityHex)
    const transaction: Eip1559Transaction = {
      chainId,
      nonce,
      maxPriorityFeePerGas,
      maxFeePerGas: 2n * latest.baseFeePerGas + maxPriorityFeePerGas,
      gas: withMargin < REPORT_EPOCH_MIGRATED_GAS_CAP ? withMargin : REPORT_EPOCH_MIGRATED_GAS_CAP,
      to,
      value: 0n,
      data,
    }
    step = 'sign the transaction'
    const serializedTransaction = await signer.signTransaction(transaction)
    step = 'send the transaction'
    return await sendRawTransaction(client, { serializedTransaction })
  } catch (cause) {
    throw new KmsError('service_unavailable', 'failed to report epoch migrated', {
      cause,
      details: `${step}: ${describeTransactionError(cause)}`,
    })
  }
}
