/**
 * Parses decoded registry tuples into records (PROTOCOL §9.2). The codec has already checked
 * the ABI types (`_decodeFunctionResult.ts`); what remains is the range check: a uint256
 * that is not a safe integer is a malformed result (`registry_unavailable`), never rounded.
 */
import { KmsError } from '../errors'
import type { AbiFunctionResult } from './_abiTypes'
import type { novaAppRegistryAbi } from './novaAppRegistryAbi'
import type { AppRecord, InstanceRecord, VersionRecord } from './types'

type Returned<F extends 'getApp' | 'getVersion' | 'getInstanceByWallet'> = AbiFunctionResult<typeof novaAppRegistryAbi, F>

export function toSafeNumber(value: bigint, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new KmsError('registry_unavailable', 'Registry unavailable', {
      details: `malformed result: ${field} is not a safe integer`,
    })
  }
  return Number(value)
}

export function toInstanceRecord(raw: Returned<'getInstanceByWallet'>): InstanceRecord {
  return {
    instanceId: toSafeNumber(raw.instanceId, 'instanceId'),
    appId: toSafeNumber(raw.appId, 'appId'),
    versionId: toSafeNumber(raw.versionId, 'versionId'),
    operator: raw.operator,
    instanceUrl: raw.instanceUrl,
    teePubkey: raw.teePubkey,
    teeWalletAddress: raw.teeWalletAddress,
    zkVerified: raw.zkVerified,
    status: raw.status,
    registeredAt: toSafeNumber(raw.registeredAt, 'registeredAt'),
  }
}

export function toAppRecord(raw: Returned<'getApp'>): AppRecord {
  return {
    appId: toSafeNumber(raw.appId, 'appId'),
    owner: raw.owner,
    teeArch: raw.teeArch,
    dappContract: raw.dappContract,
    metadataUri: raw.metadataUri,
    latestVersionId: toSafeNumber(raw.latestVersionId, 'latestVersionId'),
    createdAt: toSafeNumber(raw.createdAt, 'createdAt'),
    status: raw.status,
    appWallet: raw.appWallet,
  }
}

export function toVersionRecord(raw: Returned<'getVersion'>): VersionRecord {
  return {
    versionId: toSafeNumber(raw.versionId, 'versionId'),
    versionName: raw.versionName,
    codeMeasurement: raw.codeMeasurement,
    imageUri: raw.imageUri,
    auditUrl: raw.auditUrl,
    auditHash: raw.auditHash,
    githubRunId: raw.githubRunId,
    status: raw.status,
    enrolledAt: toSafeNumber(raw.enrolledAt, 'enrolledAt'),
    enrolledBy: raw.enrolledBy,
  }
}
