/** The first of the node's two transactions: `setMasterSecretHash` (PROTOCOL §9.3, §7.1 step 6). */
import { bytesToHex, encodeFunctionData, hexToBigInt, type Hex } from 'viem'
import { call, getBlock, getChainId, getTransactionCount, sendRawTransaction } from 'viem/actions'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Eip1559Transaction, Tee } from '../tee'
import { requireWallet } from './_arguments'
import { describeTransactionError } from './_describeTransactionError'
import { createRpcClient, type RpcClientParameters } from './_rpcClient'
import { kmsRegistryAbi } from './kmsRegistryAbi'

export interface SubmitSetMasterSecretHashParameters extends RpcClientParameters {
  kmsRegistry: Wallet
  /** keccak256 of the master secret, 32 bytes. */
  hash: Uint8Array
  /** The node's TEE: Odyn `sign-tx` in enclave mode, the stand-in in dev mode. */
  signer: Pick<Tee, 'getWallet' | 'signTransaction'>
}

/** PROTOCOL §9.3: a fixed gas limit, so no estimate is needed. */
export const SET_MASTER_SECRET_HASH_GAS = 0x493e0n

/**
 * Builds, signs and sends the transaction exactly as PROTOCOL §9.3 fixes it (EIP-1559, gas
 * 0x493e0, `maxFeePerGas = 2·baseFee(latest) + priority`, the pending nonce). It is simulated
 * first with `eth_call` from the node's wallet, so that a call the contract would refuse
 * (`MasterSecretHashAlreadySet`, `NotAuthorizedToSetHash`) fails here instead of spending gas
 * on a transaction that reverts on chain.
 * @returns the transaction hash. Inclusion is not awaited: the next `node_tick` reads the hash.
 * @throws KmsError `service_unavailable` (`failed to set master secret hash`, the §7.3 reason)
 * if a read, the simulation, the signature or the submission fails.
 */
export async function submitSetMasterSecretHash(parameters: SubmitSetMasterSecretHashParameters): Promise<Hex> {
  const { hash, signer } = parameters
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new RangeError('hash: expected 32 bytes')
  const to = requireWallet(parameters.kmsRegistry, 'kmsRegistry')
  const client = createRpcClient(parameters)
  const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: 'setMasterSecretHash', args: [bytesToHex(hash)] })

  let step = 'read the node wallet'
  try {
    const wallet = await signer.getWallet()
    step = 'read chain id, fees and nonce'
    const [chainId, priorityHex, latest, nonce] = await Promise.all([
      getChainId(client),
      client.request({ method: 'eth_maxPriorityFeePerGas' }),
      getBlock(client, { blockTag: 'latest' }),
      getTransactionCount(client, { address: wallet, blockTag: 'pending' }),
    ])
    if (latest.baseFeePerGas === null) throw new Error('the latest block has no baseFeePerGas (not EIP-1559)')
    const maxPriorityFeePerGas = hexToBigInt(priorityHex)
    const transaction: Eip1559Transaction = {
      chainId,
      nonce,
      maxPriorityFeePerGas,
      maxFeePerGas: 2n * latest.baseFeePerGas + maxPriorityFeePerGas,
      gas: SET_MASTER_SECRET_HASH_GAS,
      to,
      value: 0n,
      data,
    }
    step = 'simulate setMasterSecretHash'
    await call(client, { account: wallet, to, data, gas: transaction.gas })
    step = 'sign the transaction'
    const serializedTransaction = await signer.signTransaction(transaction)
    step = 'send the transaction'
    return await sendRawTransaction(client, { serializedTransaction })
  } catch (cause) {
    throw new KmsError('service_unavailable', 'failed to set master secret hash', {
      cause,
      details: `${step}: ${describeTransactionError(cause)}`,
    })
  }
}
