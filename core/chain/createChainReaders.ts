/** Both registry readers over one RPC client (PROTOCOL §9.3: `eth_call` at `latest`, 10 s). */
import type { Wallet } from '../encoding'
import { createRpcClient, type RpcClientParameters } from './_rpcClient'
import { createKmsRegistryReader } from './createKmsRegistryReader'
import { createNovaAppRegistryReader } from './createNovaAppRegistryReader'
import type { KmsRegistryReader, NovaAppRegistryReader } from './types'

export interface CreateChainReadersParameters extends RpcClientParameters {
  novaAppRegistry: Wallet
  kmsRegistry: Wallet
}

export interface ChainReaders {
  novaAppRegistry: NovaAppRegistryReader
  kmsRegistry: KmsRegistryReader
}

/**
 * Builds the readers; nothing touches the network until a method is called.
 * @throws TypeError if an address is not a wallet; RangeError for a bad `timeoutMs`.
 */
export function createChainReaders(parameters: CreateChainReadersParameters): ChainReaders {
  const rpc = createRpcClient(parameters)
  return {
    novaAppRegistry: createNovaAppRegistryReader({ rpc, address: parameters.novaAppRegistry }),
    kmsRegistry: createKmsRegistryReader({ rpc, address: parameters.kmsRegistry }),
  }
}
