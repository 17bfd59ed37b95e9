/**
 * The cluster as the chain describes it (PROTOCOL §9.1, §9.2): the KMS app, its live epochs
 * and their secret hashes, its operators, and every ACTIVE instance with its version. The
 * console compares each node's answers with this, never the other way round: the chain is
 * the authority, and a chain that cannot be read stops the console (it fails closed rather
 * than show a table without the facts to judge it).
 */
import { createChainReaders, createKmsEpochReader, kmsRegistryAbi, VERSION_STATUS } from '../../core/chain'
import { readRegistryView } from '../../core/chain/_readRegistryView'
import { createRpcClient } from '../../core/chain/_rpcClient'
import { bytesToHex, parseWallet, type Wallet } from '../../core/encoding'

/**
 * More ACTIVE instances than any cluster runs: the list comes from the chain, which the
 * operator trusts, but its URLs are probed one by one, so the console bounds its own work.
 */
export const MAX_CONSOLE_INSTANCES = 256

export type VersionStatusName = 'ENROLLED' | 'DEPRECATED' | 'REVOKED' | 'UNKNOWN'

export interface RegisteredInstance {
  wallet: Wallet
  url: string
  versionId: number
  /** The version's status; `UNKNOWN` when the registry has no such version. */
  versionStatus: VersionStatusName
  zkVerified: boolean
  isOperator: boolean
}

export interface RegistryView {
  kmsRegistry: Wallet
  novaAppRegistry: Wallet
  kmsAppId: number
  currentEpoch: number
  /** Live epochs, newest first, with `masterSecretHashOf` as 0x-hex (all zero: not committed yet). */
  liveEpochs: { epoch: number; hash: string }[]
  operators: Wallet[]
  instances: RegisteredInstance[]
  /** ACTIVE instances beyond MAX_CONSOLE_INSTANCES, not probed. */
  instancesNotShown: number
}

/** The chain could not be read: the console stops (exit 2) instead of guessing. */
export class RegistryReadError extends Error {
  override name = 'RegistryReadError'
}

function versionStatusName(status: number | undefined): VersionStatusName {
  const names = Object.entries(VERSION_STATUS) as [Exclude<VersionStatusName, 'UNKNOWN'>, number][]
  return names.find(([, value]) => value === status)?.[0] ?? 'UNKNOWN'
}

async function reading<T>(what: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error)
    throw new RegistryReadError(`cannot read ${what} from the chain: ${detail}`)
  }
}

export async function readRegistry(params: { rpcUrl: string; kmsRegistry: Wallet; timeoutMs: number }): Promise<RegistryView> {
  const { rpcUrl, kmsRegistry, timeoutMs } = params
  const rpc = createRpcClient({ rpcUrl, timeoutMs })
  const novaAppRegistry = parseWallet(
    await reading('KMSRegistry.novaAppRegistry()', () => readRegistryView(rpc, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'novaAppRegistry', args: [] })),
  )
  if (novaAppRegistry === undefined) throw new RegistryReadError('KMSRegistry.novaAppRegistry() is not an address')
  const readers = createChainReaders({ rpcUrl, novaAppRegistry, kmsRegistry, timeoutMs })
  const epochReader = createKmsEpochReader({ rpc, address: kmsRegistry })
  const kmsAppId = await reading('KMSRegistry.kmsAppId()', () => readers.kmsRegistry.kmsAppId())
  if (kmsAppId === 0) throw new RegistryReadError('KMSRegistry has no kmsAppId: no KMS app is registered yet')
  const [epochs, operators, wallets] = await Promise.all([
    reading('the key epochs', () => epochReader.readEpochs()),
    reading('KMSRegistry.getOperators()', () => readers.kmsRegistry.getOperators()),
    reading(`the ACTIVE instances of app ${kmsAppId}`, () => readers.novaAppRegistry.getActiveInstances(kmsAppId)),
  ])
  const shown = wallets.slice(0, MAX_CONSOLE_INSTANCES)
  const operatorSet = new Set(operators)
  const versions = new Map<number, Promise<VersionStatusName>>()
  const versionOf = (versionId: number): Promise<VersionStatusName> => {
    let status = versions.get(versionId)
    if (status === undefined) {
      status = reading(`version ${versionId}`, () => readers.novaAppRegistry.getVersion(kmsAppId, versionId)).then((version) => versionStatusName(version?.status))
      versions.set(versionId, status)
    }
    return status
  }
  const instances = await Promise.all(
    shown.map(async (wallet): Promise<RegisteredInstance> => {
      const instance = await reading(`the instance of ${wallet}`, () => readers.novaAppRegistry.getInstanceByWallet(wallet))
      if (instance === undefined) throw new RegistryReadError(`the registry lists ${wallet} as ACTIVE but has no instance for it`)
      return {
        wallet,
        url: instance.instanceUrl,
        versionId: instance.versionId,
        versionStatus: await versionOf(instance.versionId),
        zkVerified: instance.zkVerified,
        isOperator: operatorSet.has(wallet),
      }
    }),
  )
  return {
    kmsRegistry,
    novaAppRegistry,
    kmsAppId,
    currentEpoch: epochs.current,
    liveEpochs: epochs.epochs.filter((epoch) => !epoch.retired).map((epoch) => ({ epoch: epoch.epoch, hash: `0x${bytesToHex(epoch.hash)}` })),
    operators,
    instances,
    instancesNotShown: wallets.length - shown.length,
  }
}
