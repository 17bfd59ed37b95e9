/**
 * Sends one contract call or deployment and waits for a successful receipt. Calls are
 * simulated first so that a revert fails with the contract's error name, before any gas is
 * spent.
 */
import type { Abi, Address, Hex, TransactionReceipt } from 'viem'
import type { OpsClients } from './clients'

export interface WriteParameters {
  address: Address
  abi: Abi
  functionName: string
  args: readonly unknown[]
}

export async function writeAndWait(clients: OpsClients, call: WriteParameters): Promise<TransactionReceipt> {
  const { account, publicClient, walletClient } = clients
  await publicClient.simulateContract({ ...call, account })
  const hash = await walletClient.writeContract({ ...call, account, chain: null })
  return waitForSuccess(clients, hash, call.functionName)
}

export interface DeployParameters {
  abi: Abi
  bytecode: Hex
  args: readonly unknown[]
}

/** @returns the new contract's address. */
export async function deployAndWait(clients: OpsClients, deployment: DeployParameters): Promise<Address> {
  const { account, walletClient } = clients
  const hash = await walletClient.deployContract({ ...deployment, account, chain: null })
  const receipt = await waitForSuccess(clients, hash, 'deployment')
  if (!receipt.contractAddress) throw new Error(`deployment ${hash} created no contract`)
  return receipt.contractAddress
}

async function waitForSuccess(clients: OpsClients, hash: Hex, what: string): Promise<TransactionReceipt> {
  const receipt = await clients.publicClient.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`${what} reverted on chain (transaction ${hash})`)
  return receipt
}
