/** Owner operations on KMSRegistry and the read-only `status` report (PROTOCOL §9.1). */
import { BaseError, ContractFunctionRevertedError, type Abi, type Address, type PublicClient } from 'viem'
import { loadArtifact } from './artifacts'
import { canonical, createReadClient, type OpsClients } from './clients'
import type { TransactionResult } from './devRegistry'
import { writeAndWait } from './transact'

/** Puts the hash back to zero; the nodes then re-commit the secret they hold (PROTOCOL §7.5). */
export async function resetMasterSecretHash(parameters: {
  clients: OpsClients
  kmsRegistry: Address
}): Promise<TransactionResult> {
  const { abi } = loadArtifact('KMSRegistry')
  const receipt = await writeAndWait(parameters.clients, {
    address: parameters.kmsRegistry,
    abi,
    functionName: 'resetMasterSecretHash',
    args: [],
  })
  return { transactionHash: receipt.transactionHash }
}

export interface RegistryStatus {
  chainId: number
  kmsRegistry: Address
  owner: Address
  novaAppRegistry: Address
  kmsAppId: number
  masterSecretHash: string
  operators: Address[]
  /** The KMS app as NovaAppRegistry sees it; `null` if `getApp` reverts (no such app). */
  kmsApp: { status: number; dappContract: Address; latestVersionId: number } | null
  activeInstances: Address[]
}

async function read<T>(client: PublicClient, address: Address, abi: Abi, functionName: string, args: unknown[] = []) {
  return (await client.readContract({ address, abi, functionName, args })) as T
}

/** Reads both contracts: KMSRegistry's state, then the KMS app in the registry it points at. */
export async function readStatus(parameters: { rpcUrl: string; kmsRegistry: Address }): Promise<RegistryStatus> {
  const client = createReadClient(parameters.rpcUrl)
  const kmsAbi = loadArtifact('KMSRegistry').abi
  const registryAbi = loadArtifact('NovaAppRegistry').abi
  const kmsRegistry = canonical(parameters.kmsRegistry)
  const [chainId, owner, novaAppRegistry, kmsAppId, masterSecretHash, operators] = await Promise.all([
    client.getChainId(),
    read<Address>(client, kmsRegistry, kmsAbi, 'owner'),
    read<Address>(client, kmsRegistry, kmsAbi, 'novaAppRegistry'),
    read<bigint>(client, kmsRegistry, kmsAbi, 'kmsAppId'),
    read<string>(client, kmsRegistry, kmsAbi, 'masterSecretHash'),
    read<Address[]>(client, kmsRegistry, kmsAbi, 'getOperators'),
  ])
  const app = await read<{ status: number; dappContract: Address; latestVersionId: bigint }>(
    client,
    novaAppRegistry,
    registryAbi,
    'getApp',
    [kmsAppId],
  ).catch((error: unknown) => {
    if (error instanceof BaseError && error.walk((cause) => cause instanceof ContractFunctionRevertedError)) return null
    throw error
  })
  const activeInstances = await read<Address[]>(client, novaAppRegistry, registryAbi, 'getActiveInstances', [kmsAppId])
  return {
    chainId,
    kmsRegistry,
    owner: canonical(owner),
    novaAppRegistry: canonical(novaAppRegistry),
    kmsAppId: Number(kmsAppId),
    masterSecretHash,
    operators: operators.map(canonical),
    kmsApp: app && {
      status: app.status,
      dappContract: canonical(app.dappContract),
      latestVersionId: Number(app.latestVersionId),
    },
    activeInstances: activeInstances.map(canonical),
  }
}
