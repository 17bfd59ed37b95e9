/**
 * `custodian approve|veto <proposalId>` (issue 15): the custodian's approver key (secp256k1,
 * a viem local account) calls approveRecoveryPolicy or vetoRecoveryPolicy. The call is
 * simulated first, so a revert (not a custodian, already voted, expired) is reported by name
 * without spending gas.
 */
import { BaseError, ContractFunctionRevertedError, createWalletClient, http, publicActions, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { Refusal } from './checkNode'

const voteAbi = [
  { type: 'function', name: 'approveRecoveryPolicy', stateMutability: 'nonpayable', inputs: [{ name: 'proposalId', type: 'uint256' }], outputs: [] },
  { type: 'function', name: 'vetoRecoveryPolicy', stateMutability: 'nonpayable', inputs: [{ name: 'proposalId', type: 'uint256' }], outputs: [] },
] as const

export async function voteOnProposal(params: { rpcUrl: string; kmsRegistry: Wallet; approverKey: Uint8Array; proposalId: bigint; vote: 'approve' | 'veto' }): Promise<Hex> {
  const account = privateKeyToAccount(`0x${bytesToHex(params.approverKey)}`)
  const client = createWalletClient({ account, transport: http(params.rpcUrl, { timeout: 30_000, retryCount: 0 }) }).extend(publicActions)
  const functionName: 'approveRecoveryPolicy' | 'vetoRecoveryPolicy' = params.vote === 'approve' ? 'approveRecoveryPolicy' : 'vetoRecoveryPolicy'
  try {
    await client.simulateContract({ address: params.kmsRegistry, abi: voteAbi, functionName, args: [params.proposalId], account })
    const hash = await client.writeContract({ address: params.kmsRegistry, abi: voteAbi, functionName, args: [params.proposalId], account, chain: null })
    const receipt = await client.waitForTransactionReceipt({ hash, timeout: 120_000 })
    if (receipt.status !== 'success') throw new Refusal(`${functionName} reverted (${hash})`)
    return hash
  } catch (error) {
    if (error instanceof Refusal) throw error
    const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined
    const name = reverted instanceof ContractFunctionRevertedError ? (reverted.data?.errorName ?? reverted.signature ?? 'revert') : undefined
    throw new Refusal(`${functionName}(${params.proposalId}) ${name === undefined ? `failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` : `reverts: ${name}`}`)
  }
}
