/**
 * KMSRegistry's key epochs from the operator's side (issue 16, PROTOCOL §7.7, §9.1): the owner
 * starts a rotation, watches the nodes' `reportEpochMigrated` reports, and retires the previous
 * epoch (or forces it after RETIRE_GRACE_SECONDS); an app's owner moves its app to a new key
 * epoch. Every write waits for its receipt; every read of `readRotationStatus` is at one block.
 */
import { type Address, type Hex, type PublicClient } from 'viem'
import { loadArtifact } from './artifacts'
import { canonical, createReadClient, type OpsClients } from './clients'
import type { TransactionResult } from './devRegistry'
import { writeAndWait } from './transact'

export interface EpochTarget {
  clients: OpsClients
  kmsRegistry: Address
}

export interface LiveEpochView {
  epoch: number
  /** `masterSecretHashOf(epoch)`; all zero while no node has committed it. */
  hash: Hex
  committed: boolean
  retired: boolean
  /** Unix seconds of the `startRotation` that opened it (epoch 0: the deployment). */
  startedAt: number
}

export interface OperatorReportView {
  operator: Address
  /** The newest epoch it reported with `reportEpochMigrated`, or null if it never did. */
  reportedEpoch: number | null
  /** It reported the current epoch (what `retireEpoch` needs from every operator). */
  migrated: boolean
}

export interface RotationStatus {
  /** The block the status was read at, and its timestamp. */
  blockNumber: number
  blockTimestamp: number
  /** KMSRegistry's owner: the only account that may rotate and retire. */
  owner: Address
  currentEpoch: number
  retireGraceSeconds: number
  /** The current epoch and, when it is at least 1, the previous one; newest first. */
  epochs: LiveEpochView[]
  /** When `epoch-retire --force` may retire the previous epoch; null at epoch 0. */
  forceRetireFrom: number | null
  /** Seconds until then at `blockTimestamp` (0 once reached); null at epoch 0. */
  graceRemainingSeconds: number | null
  operators: OperatorReportView[]
  /** The operators that have not reported the current epoch, in operator order. */
  missing: Address[]
}

function abi() {
  return loadArtifact('KMSRegistry').abi
}

async function write(target: EpochTarget, functionName: string, args: readonly unknown[]) {
  return writeAndWait(target.clients, { address: target.kmsRegistry, abi: abi(), functionName, args })
}

/** Opens the next epoch (owner only); the nodes then commit a fresh secret for it. */
export async function startRotation(target: EpochTarget): Promise<TransactionResult & { epoch: number }> {
  const receipt = await write(target, 'startRotation', [])
  const epoch = await readNumber(target.clients.publicClient, canonical(target.kmsRegistry), 'currentEpoch', [], receipt.blockNumber)
  return { transactionHash: receipt.transactionHash, epoch }
}

async function readNumber(client: PublicClient, address: Address, functionName: string, args: unknown[], blockNumber: bigint) {
  return Number((await client.readContract({ address, abi: abi(), functionName, args, blockNumber })) as bigint)
}

/** Everything `rotation-status` prints, read at the latest block. */
export async function readRotationStatus(parameters: { rpcUrl: string; kmsRegistry: Address }): Promise<RotationStatus> {
  const client = createReadClient(parameters.rpcUrl)
  const address = canonical(parameters.kmsRegistry)
  const block = await client.getBlock({ blockTag: 'latest' })
  const blockNumber = block.number
  const read = (functionName: string, args: unknown[] = []) => client.readContract({ address, abi: abi(), functionName, args, blockNumber })
  const [owner, currentEpoch, retireGraceSeconds, operators] = await Promise.all([
    read('owner').then((value) => canonical(value as Address)),
    read('currentEpoch').then((value) => Number(value as bigint)),
    read('RETIRE_GRACE_SECONDS').then((value) => Number(value as bigint)),
    read('getOperators').then((value) => (value as Address[]).map(canonical)),
  ])
  const numbers = currentEpoch === 0 ? [0] : [currentEpoch, currentEpoch - 1]
  const epochs = await Promise.all(
    numbers.map(async (epoch): Promise<LiveEpochView> => {
      const [hash, retired, startedAt] = await Promise.all([
        read('masterSecretHashOf', [BigInt(epoch)]) as Promise<Hex>,
        read('isEpochRetired', [BigInt(epoch)]) as Promise<boolean>,
        read('epochStartedAt', [BigInt(epoch)]) as Promise<bigint>,
      ])
      return { epoch, hash, committed: BigInt(hash) !== 0n, retired, startedAt: Number(startedAt) }
    }),
  )
  const reports = await Promise.all(
    operators.map(async (operator): Promise<OperatorReportView> => {
      const [reported, epoch] = (await read('migratedEpochOf', [operator])) as [boolean, bigint]
      return { operator, reportedEpoch: reported ? Number(epoch) : null, migrated: reported && Number(epoch) >= currentEpoch }
    }),
  )
  const blockTimestamp = Number(block.timestamp)
  const forceRetireFrom = currentEpoch === 0 ? null : epochs[0]!.startedAt + retireGraceSeconds
  return {
    blockNumber: Number(blockNumber),
    blockTimestamp,
    owner,
    currentEpoch,
    retireGraceSeconds,
    epochs,
    forceRetireFrom,
    graceRemainingSeconds: forceRetireFrom === null ? null : Math.max(0, forceRetireFrom - blockTimestamp),
    operators: reports,
    missing: reports.filter((report) => !report.migrated).map((report) => report.operator),
  }
}

/**
 * Retires `epoch` (owner only). Without `force` the operators' reports are read first: if any
 * operator has not reported the current epoch the call would revert `MigrationIncomplete`, so
 * nothing is sent and the error names every missing operator. With `force`, before the grace
 * period is over, the error says when it ends. Other refusals (`NotOwner`, `EpochNotRetirable`,
 * `EpochAlreadyRetired`, `EpochNotCommitted`) come from the simulation, by name, in the
 * contract's order (a sender that is not the owner is told so first).
 */
export async function retireEpoch(
  parameters: EpochTarget & { rpcUrl: string; epoch: number; force: boolean },
): Promise<TransactionResult & { epoch: number; forced: boolean }> {
  const { epoch, force } = parameters
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError('epoch: expected a non-negative integer')
  const status = await readRotationStatus(parameters)
  const isOwner = canonical(parameters.clients.account.address) === status.owner
  const isPrevious = status.currentEpoch >= 1 && epoch === status.currentEpoch - 1
  if (isOwner && isPrevious && !status.epochs[1]!.retired && status.epochs[0]!.committed) {
    if (!force && status.missing.length > 0) {
      throw new Error(
        `MigrationIncomplete: not sent; ${status.missing.length} of ${status.operators.length} operators have not reported epoch ${status.currentEpoch}: ${status.missing.join(', ')}`,
      )
    }
    if (force && status.graceRemainingSeconds! > 0) {
      throw new Error(
        `GracePeriodNotOver: not sent; epoch ${status.currentEpoch} started at ${status.epochs[0]!.startedAt}, --force is possible from ${status.forceRetireFrom} (${status.graceRemainingSeconds} s from the latest block)`,
      )
    }
  }
  const receipt = await write(parameters, force ? 'forceRetireEpoch' : 'retireEpoch', [BigInt(epoch)])
  return { transactionHash: receipt.transactionHash, epoch, forced: force }
}

/** The app's owner (in NovaAppRegistry) moves the app to a new key epoch: its derived keys change. */
export async function setAppKeyEpoch(
  parameters: EpochTarget & { appId: number; epoch: number },
): Promise<TransactionResult & { appId: number; epoch: number }> {
  const { appId, epoch } = parameters
  if (!Number.isSafeInteger(epoch) || epoch < 1 || epoch > 0xffff_ffff) {
    throw new RangeError('epoch: expected an integer in 1..2^32 - 1 (the contract refuses others)')
  }
  const receipt = await write(parameters, 'setAppKeyEpoch', [BigInt(appId), BigInt(epoch)])
  return { transactionHash: receipt.transactionHash, appId, epoch }
}
