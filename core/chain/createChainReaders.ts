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
 * @throws TypeError if an address is not a wallet.
 */
export function createChainReaders(parameters: CreateChainReadersParameters): ChainReaders {
  const client = createRpcClient(parameters)
  return {
    novaAppRegistry: createNovaAppRegistryReader({ client, address: parameters.novaAppRegistry }),
    kmsRegistry: createKmsRegistryReader({ client, address: parameters.kmsRegistry }),
  }
}
