/**
 * KMSRegistry's two-step ownership from the operator's side (issue 19, PROTOCOL §9.1): the
 * owner nominates a new owner, which then accepts with its own key. Until it accepts, the
 * old owner keeps every right, and a later nomination replaces the first.
 */
import { type Address, zeroAddress } from 'viem'
import { loadArtifact } from './artifacts'
import { canonical, createReadClient, type OpsClients } from './clients'
import type { TransactionResult } from './devRegistry'
import { writeAndWait } from './transact'

export interface OwnershipTarget {
  clients: OpsClients
  kmsRegistry: Address
}

export interface OwnershipStatus {
  owner: Address
  /** The nominated owner, or null when no transfer is pending. */
  pendingOwner: Address | null
}

function abi() {
  return loadArtifact('KMSRegistry').abi
}

/** Reads the owner and the pending nominee at one block. */
export async function readOwnership(parameters: { rpcUrl: string; kmsRegistry: Address }): Promise<OwnershipStatus> {
  const client = createReadClient(parameters.rpcUrl)
  const address = canonical(parameters.kmsRegistry)
  const blockNumber = await client.getBlockNumber()
  const read = (functionName: 'owner' | 'pendingOwner') => client.readContract({ address, abi: abi(), functionName, blockNumber }) as Promise<Address>
  const [owner, pendingOwner] = await Promise.all([read('owner'), read('pendingOwner')])
  return { owner: canonical(owner), pendingOwner: pendingOwner === zeroAddress ? null : canonical(pendingOwner) }
}

/**
 * Step 1 (owner only): nominates `newOwner`, or cancels the nomination with the zero address.
 * The contract refuses a sender that is not the owner with `NotOwner`, named by the simulation.
 */
export async function transferOwnership(parameters: OwnershipTarget & { newOwner: Address }): Promise<TransactionResult & { pendingOwner: Address | null }> {
  const receipt = await writeAndWait(parameters.clients, { address: parameters.kmsRegistry, abi: abi(), functionName: 'transferOwnership', args: [parameters.newOwner] })
  return { transactionHash: receipt.transactionHash, pendingOwner: parameters.newOwner === zeroAddress ? null : canonical(parameters.newOwner) }
}

/** Step 2 (the nominee only, `NotPendingOwner` otherwise): takes ownership. */
export async function acceptOwnership(parameters: OwnershipTarget): Promise<TransactionResult & { owner: Address }> {
  const receipt = await writeAndWait(parameters.clients, { address: parameters.kmsRegistry, abi: abi(), functionName: 'acceptOwnership', args: [] })
  return { transactionHash: receipt.transactionHash, owner: canonical(parameters.clients.account.address) }
}
