/**
 * The registry facts the page compares a document with, read by the browser itself through
 * the JSON-RPC URL with core/chain's readers (its own fetch-based JSON-RPC client): KMSRegistry's
 * `novaAppRegistry()` and `kmsAppId()`, then NovaAppRegistry's `getInstanceByWallet` for
 * the document's `eth_addr` and `getVersion` of that instance's version (PROTOCOL §9.1, §9.2).
 */
import { createChainReaders, kmsRegistryAbi, type InstanceRecord, type VersionRecord } from '../../core/chain'
import { readRegistryView } from '../../core/chain/_readRegistryView'
import { createRpcClient } from '../../core/chain/_rpcClient'
import { parseWallet, type Wallet } from '../../core/encoding'

/** Per RPC call: the page is interactive, so it gives up sooner than a node's 10 s. */
const RPC_TIMEOUT_MS = 8000

export interface RegistryFacts {
  kmsRegistry: Wallet
  novaAppRegistry: Wallet
  kmsAppId: number
  /** The wallet looked up: the document's `user_data.eth_addr` (`undefined` when it has none). */
  wallet: Wallet | undefined
  /** `undefined`: no instance has this wallet. */
  instance: InstanceRecord | undefined
  /** The instance's version in the KMS app; `undefined` when there is none. */
  version: VersionRecord | undefined
}

/** @throws Error with a short reason when the chain cannot be read. */
export async function readKmsRegistryFacts(params: { rpcUrl: string; kmsRegistry: Wallet; wallet: Wallet | undefined }): Promise<RegistryFacts> {
  const { rpcUrl, kmsRegistry, wallet } = params
  const rpc = createRpcClient({ rpcUrl, timeoutMs: RPC_TIMEOUT_MS })
  let answer: unknown
  try {
    answer = await readRegistryView(rpc, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'novaAppRegistry', args: [] })
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new Error(`KMSRegistry.novaAppRegistry() at ${kmsRegistry} via ${rpcUrl}: ${detail}`)
  }
  const novaAppRegistry = typeof answer === 'string' ? parseWallet(answer) : undefined
  if (novaAppRegistry === undefined) throw new Error('KMSRegistry.novaAppRegistry() is not an address')
  const readers = createChainReaders({ rpcUrl, novaAppRegistry, kmsRegistry, timeoutMs: RPC_TIMEOUT_MS })
  const kmsAppId = await readers.kmsRegistry.kmsAppId()
  const instance = wallet === undefined ? undefined : await readers.novaAppRegistry.getInstanceByWallet(wallet)
  // The version is looked up in the KMS app, whatever app the instance claims: an instance of
  // another app must not borrow that app's measurement.
  const version = instance === undefined ? undefined : await readers.novaAppRegistry.getVersion(kmsAppId, instance.versionId)
  return { kmsRegistry, novaAppRegistry, kmsAppId, wallet, instance, version }
}
