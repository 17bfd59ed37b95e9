/**
 * Owner operations on the development NovaAppRegistry (PROTOCOL §9.4). Each waits for its
 * receipt; a revert fails with the contract's error name (simulated first).
 */
import { parseEventLogs, type Address, type Hex } from 'viem'
import { loadArtifact } from './artifacts'
import type { OpsClients } from './clients'
import { writeAndWait } from './transact'

export interface RegistryTarget {
  clients: OpsClients
  novaAppRegistry: Address
}

export interface TransactionResult {
  transactionHash: Hex
}

async function callRegistry(target: RegistryTarget, functionName: string, args: readonly unknown[]) {
  const { abi } = loadArtifact('NovaAppRegistry')
  return writeAndWait(target.clients, { address: target.novaAppRegistry, abi, functionName, args })
}

export interface RegisterAppParameters extends RegistryTarget {
  appId: number
  appOwner: Address
  /** Receives addOperator/removeOperator callbacks; the zero address for none. */
  dappContract: Address
  teeArch: Hex
  metadataUri: string
  appWallet: Address
}

export async function registerApp(parameters: RegisterAppParameters): Promise<TransactionResult> {
  const { appId, appOwner, dappContract, teeArch, metadataUri, appWallet } = parameters
  const receipt = await callRegistry(parameters, 'createApp', [
    BigInt(appId),
    appOwner,
    dappContract,
    teeArch,
    metadataUri,
    appWallet,
  ])
  return { transactionHash: receipt.transactionHash }
}

export interface EnrollVersionParameters extends RegistryTarget {
  appId: number
  versionId: number
  versionName: string
  /** keccak256(PCR0‖PCR1‖PCR2), 32 bytes. */
  codeMeasurement: Hex
  imageUri: string
}

export async function enrollVersion(parameters: EnrollVersionParameters): Promise<TransactionResult> {
  const { appId, versionId, versionName, codeMeasurement, imageUri } = parameters
  const receipt = await callRegistry(parameters, 'enrollVersion', [
    BigInt(appId),
    BigInt(versionId),
    versionName,
    codeMeasurement,
    imageUri,
  ])
  return { transactionHash: receipt.transactionHash }
}

export interface RegisterInstanceParameters extends RegistryTarget {
  appId: number
  versionId: number
  operator: Address
  instanceUrl: string
  teePubkey: Hex
  teeWalletAddress: Address
  zkVerified: boolean
}

export async function registerInstance(
  parameters: RegisterInstanceParameters,
): Promise<TransactionResult & { instanceId: number }> {
  const { appId, versionId, operator, instanceUrl, teePubkey, teeWalletAddress, zkVerified } = parameters
  const receipt = await callRegistry(parameters, 'registerInstance', [
    BigInt(appId),
    BigInt(versionId),
    operator,
    instanceUrl,
    teePubkey,
    teeWalletAddress,
    zkVerified,
  ])
  const { abi } = loadArtifact('NovaAppRegistry')
  const [registered] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'InstanceRegistered' })
  const instanceId = (registered?.args as { instanceId?: bigint } | undefined)?.instanceId
  if (instanceId === undefined) throw new Error(`no InstanceRegistered event in ${receipt.transactionHash}`)
  return { transactionHash: receipt.transactionHash, instanceId: Number(instanceId) }
}

export async function setAppStatus(
  parameters: RegistryTarget & { appId: number; status: number },
): Promise<TransactionResult> {
  const receipt = await callRegistry(parameters, 'setAppStatus', [BigInt(parameters.appId), parameters.status])
  return { transactionHash: receipt.transactionHash }
}

export async function setVersionStatus(
  parameters: RegistryTarget & { appId: number; versionId: number; status: number },
): Promise<TransactionResult> {
  const { appId, versionId, status } = parameters
  const receipt = await callRegistry(parameters, 'setVersionStatus', [BigInt(appId), BigInt(versionId), status])
  return { transactionHash: receipt.transactionHash }
}

/** ACTIVE ⇄ other statuses trigger the app's operator callbacks (PROTOCOL §9.4). */
export async function setInstanceStatus(
  parameters: RegistryTarget & { instanceId: number; status: number },
): Promise<TransactionResult> {
  const { instanceId, status } = parameters
  const receipt = await callRegistry(parameters, 'setInstanceStatus', [BigInt(instanceId), status])
  return { transactionHash: receipt.transactionHash }
}

export async function setInstanceZkVerified(
  parameters: RegistryTarget & { instanceId: number; zkVerified: boolean },
): Promise<TransactionResult> {
  const { instanceId, zkVerified } = parameters
  const receipt = await callRegistry(parameters, 'setInstanceZkVerified', [BigInt(instanceId), zkVerified])
  return { transactionHash: receipt.transactionHash }
}
