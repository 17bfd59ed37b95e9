/** Typed KMSRegistry reads (PROTOCOL §9.1, §7.1 steps 2–5). */
import { hexToBytes, type Client } from 'viem'
import { readContract } from 'viem/actions'
import type { Wallet } from '../encoding'
import { requireWallet } from './_arguments'
import { readOrUnavailable } from './_readErrors'
import { toSafeNumber, toWallet } from './_records'
import { kmsRegistryAbi } from './kmsRegistryAbi'
import type { KmsRegistryReader } from './types'

export interface CreateKmsRegistryReaderParameters {
  client: Client
  address: Wallet
}

/**
 * KMSRegistry's views never revert, so every failure, a revert included, is
 * `registry_unavailable`; the caller turns it into its readiness reason.
 * @throws (from every method) KmsError `registry_unavailable`.
 */
export function createKmsRegistryReader({ client, address }: CreateKmsRegistryReaderParameters): KmsRegistryReader {
  const kmsRegistry = requireWallet(address, 'kmsRegistry')

  return {
    async masterSecretHash() {
      const hash = await readOrUnavailable('masterSecretHash', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'masterSecretHash' }),
      )
      return hexToBytes(hash)
    },

    async isOperator(wallet) {
      const operator = requireWallet(wallet, 'wallet')
      return readOrUnavailable('isOperator', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'isOperator', args: [operator] }),
      )
    },

    async getOperators() {
      const operators = await readOrUnavailable('getOperators', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'getOperators' }),
      )
      return operators.map(toWallet)
    },

    async kmsAppId() {
      const appId = await readOrUnavailable('kmsAppId', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'kmsAppId' }),
      )
      return toSafeNumber(appId, 'kmsAppId')
    },
  }
}
