/**
 * The one way a node sends a transaction to KMSRegistry (PROTOCOL §9.3): simulated first with
 * `eth_call` from its wallet, so a call the contract would refuse fails here instead of
 * spending gas; then EIP-1559 with `maxFeePerGas = 2·baseFee(latest) + priority`, the pending
 * nonce and the chain id, signed by the TEE (Odyn `sign-tx`, or the dev stand-in) and sent raw.
 * Each failure names the step it happened in and the contract's revert, if any.
 */
import { hexToBigInt, type Hex } from 'viem'
import { call, estimateGas, getBlock, getChainId, getTransactionCount, sendRawTransaction } from 'viem/actions'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Eip1559Transaction, Tee } from '../tee'
import { describeTransactionError } from './_describeTransactionError'
import type { RpcClientParameters } from './_rpcClient'
import { createTransactionClient } from './_transactionClient'

export interface NodeTransaction extends RpcClientParameters {
  to: Wallet
  /** The ABI-encoded call. */
  data: Hex
  /** Names the steps in errors: `simulate <functionName>`. */
  functionName: string
  /**
   * `fixed`: exactly this gas limit (§9.3 fixes `setMasterSecretHash`'s). `cap`:
   * `eth_estimateGas` plus 25 %, never above the cap, so the node holds only the balance a
   * call needs rather than the worst case's.
   */
  gas: { fixed: bigint } | { cap: bigint }
  signer: Pick<Tee, 'getWallet' | 'signTransaction'>
  /** The KmsError message of every failure (a §7.3 reason or a log line). */
  failureMessage: string
}

/**
 * @returns the transaction hash; inclusion is not awaited (the next tick reads the chain).
 * @throws KmsError `service_unavailable` with `failureMessage`, and `details` = the step and
 *   the revert name, if a read, the simulation, the signature or the submission fails.
 */
export async function sendNodeTransaction(transaction: NodeTransaction): Promise<Hex> {
  const { to, data, signer, gas } = transaction
  const client = createTransactionClient(transaction)
  let step = 'read the node wallet'
  try {
    const wallet = await signer.getWallet()
    const simulationGas = 'fixed' in gas ? gas.fixed : gas.cap
    step = `simulate ${transaction.functionName}`
    await call(client, { account: wallet, to, data, gas: simulationGas })
    step = 'fixed' in gas ? 'read chain id, fees and nonce' : 'read chain id, fees, nonce and gas'
    const [chainId, priorityHex, latest, nonce, estimate] = await Promise.all([
      getChainId(client),
      client.request({ method: 'eth_maxPriorityFeePerGas' }),
      getBlock(client, { blockTag: 'latest' }),
      getTransactionCount(client, { address: wallet, blockTag: 'pending' }),
      'fixed' in gas ? Promise.resolve(gas.fixed) : estimateGas(client, { account: wallet, to, data }),
    ])
    if (latest.baseFeePerGas === null) throw new Error('the latest block has no baseFeePerGas (not EIP-1559)')
    const withMargin = 'fixed' in gas ? gas.fixed : (estimate * 5n) / 4n
    const maxPriorityFeePerGas = hexToBigInt(priorityHex)
    const signed: Eip1559Transaction = {
      chainId,
      nonce,
      maxPriorityFeePerGas,
      maxFeePerGas: 2n * latest.baseFeePerGas + maxPriorityFeePerGas,
      gas: 'fixed' in gas || withMargin < gas.cap ? withMargin : gas.cap,
      to,
      value: 0n,
      data,
    }
    step = 'sign the transaction'
    const serializedTransaction = await signer.signTransaction(signed)
    step = 'send the transaction'
    return await sendRawTransaction(client, { serializedTransaction })
  } catch (cause) {
    throw new KmsError('service_unavailable', transaction.failureMessage, { cause, details: `${step}: ${describeTransactionError(cause)}` })
  }
}
