/** Typed KMSRegistry reads (PROTOCOL §9.1, §7.1 steps 2–5). */
import type { Wallet } from '../encoding'
import { requireWallet } from './_arguments'
import { readOrUnavailable } from './_readErrors'
import { readRegistryView } from './_readRegistryView'
import { toSafeNumber } from './_records'
import type { ChainRpc } from './_rpcClient'
import { kmsRegistryAbi } from './kmsRegistryAbi'
import type { KmsRegistryReader } from './types'

export interface CreateKmsRegistryReaderParameters {
  rpc: ChainRpc
  address: Wallet
}

/**
 * KMSRegistry's views never revert, so every failure, a revert included, is
 * `registry_unavailable`; the caller turns it into its readiness reason.
 * @throws (from every method) KmsError `registry_unavailable`.
 */
export function createKmsRegistryReader({ rpc, address }: CreateKmsRegistryReaderParameters): KmsRegistryReader {
  const kmsRegistry = requireWallet(address, 'kmsRegistry')
  const abi = kmsRegistryAbi

  return {
    masterSecretHash: () =>
      readOrUnavailable('masterSecretHash', () => readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'masterSecretHash', args: [] })),

    async isOperator(wallet) {
      const operator = requireWallet(wallet, 'wallet')
      return readOrUnavailable('isOperator', () => readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'isOperator', args: [operator] }))
    },

    getOperators: () =>
      readOrUnavailable('getOperators', () => readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'getOperators', args: [] })),

    async kmsAppId() {
      const appId = await readOrUnavailable('kmsAppId', () => readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'kmsAppId', args: [] }))
      return toSafeNumber(appId, 'kmsAppId')
    },
  }
}
