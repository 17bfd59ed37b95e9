import type { Wallet } from '../encoding'
import type { ChainRpc } from './_rpcClient'
import type { Abi, AbiFunctionArgs, AbiFunctionName, AbiFunctionResult } from './_abiTypes'
import { decodeFunctionResult } from './_decodeFunctionResult'
import { encodeFunctionCall } from './_encodeFunctionCall'

export interface ReadRegistryViewParameters<A extends Abi, N extends AbiFunctionName<A>> {
  address: Wallet
  abi: A
  functionName: N
  args: AbiFunctionArgs<A, N>
  /** Pins the read to one block (`latest` when absent). */
  blockNumber?: bigint
}

/**
 * One registry view: encode the call, `eth_call` it, decode the answer strictly.
 * @throws the RPC client's typed errors, or AbiDecodingError for malformed return data.
 */
export async function readRegistryView<A extends Abi, N extends AbiFunctionName<A>>(
  rpc: ChainRpc,
  { address, abi, functionName, args, blockNumber }: ReadRegistryViewParameters<A, N>,
): Promise<AbiFunctionResult<A, N>> {
  const data = encodeFunctionCall(abi, functionName, args)
  return decodeFunctionResult(abi, functionName, await rpc.call({ to: address, data }, blockNumber))
}
