/** Typed NovaAppRegistry reads (PROTOCOL §9.2) with §3.3's not-found rules. */
import type { Wallet } from '../encoding'
import { requireId, requireWallet } from './_arguments'
import { readOrNotFound, readOrUnavailable } from './_readErrors'
import { readRegistryView } from './_readRegistryView'
import { toAppRecord, toInstanceRecord, toVersionRecord } from './_records'
import type { ChainRpc } from './_rpcClient'
import { novaAppRegistryAbi } from './novaAppRegistryAbi'
import type { NovaAppRegistryReader } from './types'

export interface CreateNovaAppRegistryReaderParameters {
  rpc: ChainRpc
  address: Wallet
}

/**
 * @throws (from every method) KmsError `registry_unavailable` on a transport error, a timeout
 * or an undecodable result; `getActiveInstances` also on a revert.
 */
export function createNovaAppRegistryReader({ rpc, address }: CreateNovaAppRegistryReaderParameters): NovaAppRegistryReader {
  const registry = requireWallet(address, 'novaAppRegistry')
  const abi = novaAppRegistryAbi
  return {
    async getInstanceByWallet(wallet) {
      const requested = requireWallet(wallet, 'wallet')
      const raw = await readOrNotFound('getInstanceByWallet', () =>
        readRegistryView(rpc, { address: registry, abi, functionName: 'getInstanceByWallet', args: [requested] }),
      )
      if (raw === undefined) return undefined
      const instance = toInstanceRecord(raw)
      // §3.3 step 1: an unknown wallet reads as the zero tuple, and a registry answer about
      // another wallet must never authorize this one.
      if (instance.instanceId === 0 || instance.teeWalletAddress !== requested) return undefined
      return instance
    },

    async getApp(appId) {
      const id = requireId(appId, 'appId')
      const raw = await readOrNotFound('getApp', () => readRegistryView(rpc, { address: registry, abi, functionName: 'getApp', args: [id] }))
      return raw === undefined ? undefined : toAppRecord(raw)
    },

    async getVersion(appId, versionId) {
      const args = [requireId(appId, 'appId'), requireId(versionId, 'versionId')] as const
      const raw = await readOrNotFound('getVersion', () => readRegistryView(rpc, { address: registry, abi, functionName: 'getVersion', args }))
      return raw === undefined ? undefined : toVersionRecord(raw)
    },

    async getActiveInstances(appId) {
      const id = requireId(appId, 'appId')
      // A list has no "not found": a revert here is as unusable as a transport error.
      return readOrUnavailable('getActiveInstances', () =>
        readRegistryView(rpc, { address: registry, abi, functionName: 'getActiveInstances', args: [id] }),
      )
    },
  }
}
