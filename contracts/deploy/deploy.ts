/**
 * Deploys and wires the contracts (PROTOCOL §9). On a dev chain: a development
 * NovaAppRegistry, KMSRegistry pointed at it with `kmsAppId` set, and the KMS app created
 * with KMSRegistry as its dappContract (so instance changes reach the operator set) and one
 * ENROLLED version. On a real network (`novaAppRegistry` given): only KMSRegistry, pointed at
 * that registry, with `kmsAppId` set; the app itself is managed by the registry's owners.
 */
import { stringToHex, zeroAddress, type Address, type Hex } from 'viem'
import { loadArtifact } from './artifacts'
import { canonical, connect } from './clients'
import { enrollVersion, registerApp } from './devRegistry'
import { deployAndWait, writeAndWait } from './transact'

export interface DeployContractsParameters {
  rpcUrl: string
  privateKey: Hex
  kmsAppId: number
  /** An existing registry: deploy only KMSRegistry. Absent: deploy the development registry. */
  novaAppRegistry?: Address
  /**
   * KMSRegistry's POLICY_TIMELOCK_SECONDS: how long a proposed recovery policy waits for
   * vetoes before anyone may activate it. Default 7 days; a devnet passes a short one.
   */
  policyTimelockSeconds?: number
  /**
   * KMSRegistry's RETIRE_GRACE_SECONDS: how long after a rotation starts before the owner may
   * force-retire the previous epoch without every operator's report. Default 7 days; the
   * devnet passes 30 s.
   */
  retireGraceSeconds?: number
  /** Dev chain only: the KMS version to enroll. */
  version?: { versionId: number; versionName: string; codeMeasurement: Hex; imageUri: string }
}

export interface DeployedContracts {
  novaAppRegistry: Address
  kmsRegistry: Address
  owner: Address
  kmsAppId: number
  /** True when the development NovaAppRegistry was deployed too. */
  devRegistry: boolean
}

/**
 * The dev chain's KMS version. Its measurement is what dev attestation documents carry
 * (PCR0–2 zero: keccak256 of 144 zero bytes, PROTOCOL §10.3), so a client's check of a dev
 * node's `/attestation` against the registry (§2.9) passes as it would in production.
 */
export const DEFAULT_KMS_VERSION = {
  versionId: 1,
  versionName: 'dev',
  codeMeasurement: '0xcd2e66bf0b91eeedc6c648ae9335a78d7c9a4ab0ef33612a824d91cdc68a4f21',
  imageUri: '',
} as const satisfies DeployContractsParameters['version']

/** The default recovery-policy timelock: 7 days (issue 15). */
export const DEFAULT_POLICY_TIMELOCK_SECONDS = 604_800

/** The default grace before an epoch may be force-retired: 7 days (issue 16). */
export const DEFAULT_RETIRE_GRACE_SECONDS = 604_800

/** The contract's range for both constructor durations: 1..2^32 − 1 seconds. */
function checkSeconds(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0 || value > 0xffff_ffff) {
    throw new RangeError(`${name}: expected an integer in 1..2^32 - 1 (the contract refuses others)`)
  }
  return value
}

export async function deployContracts(parameters: DeployContractsParameters): Promise<DeployedContracts> {
  const { kmsAppId } = parameters
  if (!Number.isSafeInteger(kmsAppId) || kmsAppId <= 0) throw new RangeError('kmsAppId: expected a positive integer')
  const policyTimelockSeconds = checkSeconds(parameters.policyTimelockSeconds ?? DEFAULT_POLICY_TIMELOCK_SECONDS, 'policyTimelockSeconds')
  const retireGraceSeconds = checkSeconds(parameters.retireGraceSeconds ?? DEFAULT_RETIRE_GRACE_SECONDS, 'retireGraceSeconds')
  const clients = connect(parameters)
  const owner = canonical(clients.account.address)
  const devRegistry = parameters.novaAppRegistry === undefined
  const registryArtifact = loadArtifact('NovaAppRegistry')
  const kmsArtifact = loadArtifact('KMSRegistry')

  if (!devRegistry && (await clients.publicClient.getCode({ address: parameters.novaAppRegistry! })) === undefined) {
    throw new Error(`no contract at ${parameters.novaAppRegistry}`)
  }
  const novaAppRegistry = canonical(
    parameters.novaAppRegistry ?? (await deployAndWait(clients, { ...registryArtifact, args: [owner] })),
  )
  const kmsRegistry = canonical(await deployAndWait(clients, { ...kmsArtifact, args: [owner, novaAppRegistry, BigInt(policyTimelockSeconds), BigInt(retireGraceSeconds)] }))
  await writeAndWait(clients, {
    address: kmsRegistry,
    abi: kmsArtifact.abi,
    functionName: 'setKmsAppId',
    args: [BigInt(kmsAppId)],
  })

  if (devRegistry) {
    const target = { clients, novaAppRegistry }
    await registerApp({
      ...target,
      appId: kmsAppId,
      appOwner: owner,
      dappContract: kmsRegistry,
      teeArch: stringToHex('nitro', { size: 32 }),
      metadataUri: '',
      appWallet: zeroAddress,
    })
    await enrollVersion({ ...target, appId: kmsAppId, ...(parameters.version ?? DEFAULT_KMS_VERSION) })
  }
  return { novaAppRegistry, kmsRegistry, owner, kmsAppId, devRegistry }
}
