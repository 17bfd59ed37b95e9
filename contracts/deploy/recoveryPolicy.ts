/**
 * KMSRegistry's recovery policy from the operator's side (issue 15, PROTOCOL §9.1): the owner
 * sets the first policy and proposes later ones; a custodian approves or vetoes with its
 * approver key (`approveRecoveryPolicy`, `vetoRecoveryPolicy`, used by `nova-kms custodian`);
 * anyone activates a proposal whose timelock has expired. Every write waits for its receipt.
 */
import { bytesToHex, decodeEventLog, getAddress, isHex, size, type Address, type Hex } from 'viem'
import { loadArtifact } from './artifacts'
import { canonical, createReadClient, type OpsClients } from './clients'
import type { TransactionResult } from './devRegistry'
import { writeAndWait } from './transact'

export interface PolicyCustodian {
  /** P-384 SubjectPublicKeyInfo DER, 120 bytes. */
  sealingKey: Hex
  approver: Address
}

export interface PolicyTarget {
  clients: OpsClients
  kmsRegistry: Address
}

export const PROPOSAL_STATES = ['None', 'Pending', 'Activated', 'Vetoed', 'Cancelled'] as const
export type ProposalState = (typeof PROPOSAL_STATES)[number]

export interface RecoveryPolicyView {
  policyId: number
  threshold: number
  custodians: PolicyCustodian[]
}

export interface PolicyProposalView {
  proposalId: number
  basePolicyId: number
  threshold: number
  custodians: PolicyCustodian[]
  /** Unix seconds: from then on anyone may activate it, unless a threshold vetoed it. */
  executableAt: number
  approvals: number
  vetoes: number
  state: ProposalState
}

/**
 * Parses `<sealingKey hex>:<approver address>` items, comma-separated (the CLI's
 * `--custodians`). The contract checks the rest (120-byte P-384 SPKI, no duplicates).
 */
export function parseCustodians(value: string): PolicyCustodian[] {
  return value.split(',').map((item, index) => {
    const [sealingKey, approver, extra] = item.trim().split(':')
    if (extra !== undefined || sealingKey === undefined || approver === undefined) {
      throw new Error(`--custodians item ${index + 1}: expected <sealing key hex>:<approver address>`)
    }
    if (!isHex(sealingKey, { strict: true }) || size(sealingKey) !== 120) {
      throw new Error(`--custodians item ${index + 1}: the sealing key must be 120 bytes of hex (P-384 SPKI DER)`)
    }
    return { sealingKey, approver: getAddress(approver) }
  })
}

function abi() {
  return loadArtifact('KMSRegistry').abi
}

async function write(target: PolicyTarget, functionName: string, args: readonly unknown[]) {
  return writeAndWait(target.clients, { address: target.kmsRegistry, abi: abi(), functionName, args })
}

function checkThreshold(threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > 16) throw new RangeError('threshold: expected 1..16')
}

/** The first policy (owner only, once). */
export async function setInitialRecoveryPolicy(
  parameters: PolicyTarget & { custodians: readonly PolicyCustodian[]; threshold: number },
): Promise<TransactionResult & { policyId: number }> {
  checkThreshold(parameters.threshold)
  const receipt = await write(parameters, 'setInitialRecoveryPolicy', [parameters.custodians, parameters.threshold])
  return { transactionHash: receipt.transactionHash, policyId: 1 }
}

/** Proposes the next policy (owner only); prints the proposal id and when it may be activated. */
export async function proposeRecoveryPolicy(
  parameters: PolicyTarget & { custodians: readonly PolicyCustodian[]; threshold: number },
): Promise<TransactionResult & { proposalId: number; executableAt: number }> {
  checkThreshold(parameters.threshold)
  const receipt = await write(parameters, 'proposeRecoveryPolicy', [parameters.custodians, parameters.threshold])
  for (const log of receipt.logs) {
    try {
      const event = decodeEventLog({ abi: abi(), data: log.data, topics: log.topics })
      if (event.eventName === 'RecoveryPolicyProposed') {
        const args = event.args as unknown as { proposalId: bigint; executableAt: bigint }
        return {
          transactionHash: receipt.transactionHash,
          proposalId: Number(args.proposalId),
          executableAt: Number(args.executableAt),
        }
      }
    } catch {
      // Another contract's log, or another event.
    }
  }
  throw new Error(`proposeRecoveryPolicy: no RecoveryPolicyProposed event in ${receipt.transactionHash}`)
}

/** A current custodian's approval, sent from its approver key (`clients`). */
export async function approveRecoveryPolicy(parameters: PolicyTarget & { proposalId: number }): Promise<TransactionResult> {
  const receipt = await write(parameters, 'approveRecoveryPolicy', [BigInt(parameters.proposalId)])
  return { transactionHash: receipt.transactionHash }
}

/** A current custodian's veto, sent from its approver key. */
export async function vetoRecoveryPolicy(parameters: PolicyTarget & { proposalId: number }): Promise<TransactionResult> {
  const receipt = await write(parameters, 'vetoRecoveryPolicy', [BigInt(parameters.proposalId)])
  return { transactionHash: receipt.transactionHash }
}

/** Anyone, once the timelock has expired without a threshold of vetoes. */
export async function activateRecoveryPolicy(parameters: PolicyTarget & { proposalId: number }): Promise<TransactionResult> {
  const receipt = await write(parameters, 'activateRecoveryPolicy', [BigInt(parameters.proposalId)])
  return { transactionHash: receipt.transactionHash }
}

/** The owner withdraws a pending proposal. */
export async function cancelRecoveryPolicyProposal(
  parameters: PolicyTarget & { proposalId: number },
): Promise<TransactionResult> {
  const receipt = await write(parameters, 'cancelRecoveryPolicyProposal', [BigInt(parameters.proposalId)])
  return { transactionHash: receipt.transactionHash }
}

function custodiansOf(raw: readonly { sealingKey: Hex; approver: Address }[]): PolicyCustodian[] {
  return raw.map((custodian) => ({ sealingKey: custodian.sealingKey, approver: canonical(custodian.approver) }))
}

export interface RecoveryState {
  /** 0: no policy yet. */
  recoveryPolicyId: number
  policyTimelockSeconds: number
  /** The active policy, or null before the first. */
  policy: RecoveryPolicyView | null
  /** The pending proposal, or null. */
  pendingProposal: PolicyProposalView | null
}

/** Reads one policy; `policyId` 0 or absent: the active one (null if there is none). */
export async function readRecoveryPolicy(parameters: {
  rpcUrl: string
  kmsRegistry: Address
  policyId?: number
}): Promise<RecoveryPolicyView | null> {
  const client = createReadClient(parameters.rpcUrl)
  const address = canonical(parameters.kmsRegistry)
  const policyId =
    parameters.policyId ??
    Number((await client.readContract({ address, abi: abi(), functionName: 'recoveryPolicyId' })) as bigint)
  if (policyId === 0) return null
  const [threshold, custodians] = (await client.readContract({
    address,
    abi: abi(),
    functionName: 'getRecoveryPolicy',
    args: [BigInt(policyId)],
  })) as [number, { sealingKey: Hex; approver: Address }[]]
  return { policyId, threshold, custodians: custodiansOf(custodians) }
}

export async function readPolicyProposal(parameters: {
  rpcUrl: string
  kmsRegistry: Address
  proposalId: number
}): Promise<PolicyProposalView> {
  const client = createReadClient(parameters.rpcUrl)
  const [basePolicyId, threshold, custodians, executableAt, approvals, vetoes, state] = (await client.readContract({
    address: canonical(parameters.kmsRegistry),
    abi: abi(),
    functionName: 'getPolicyProposal',
    args: [BigInt(parameters.proposalId)],
  })) as [bigint, number, { sealingKey: Hex; approver: Address }[], bigint, number, number, number]
  return {
    proposalId: parameters.proposalId,
    basePolicyId: Number(basePolicyId),
    threshold,
    custodians: custodiansOf(custodians),
    executableAt: Number(executableAt),
    approvals,
    vetoes,
    state: PROPOSAL_STATES[state] ?? 'None',
  }
}

/** The active policy, the timelock and the pending proposal: what `recovery-show` prints. */
export async function readRecoveryState(parameters: { rpcUrl: string; kmsRegistry: Address }): Promise<RecoveryState> {
  const client = createReadClient(parameters.rpcUrl)
  const address = canonical(parameters.kmsRegistry)
  const [recoveryPolicyId, timelock, pendingProposalId] = (await Promise.all(
    ['recoveryPolicyId', 'POLICY_TIMELOCK_SECONDS', 'pendingProposalId'].map((functionName) =>
      client.readContract({ address, abi: abi(), functionName }),
    ),
  )) as [bigint, bigint, bigint]
  return {
    recoveryPolicyId: Number(recoveryPolicyId),
    policyTimelockSeconds: Number(timelock),
    policy: await readRecoveryPolicy({ ...parameters, policyId: Number(recoveryPolicyId) }),
    pendingProposal:
      pendingProposalId === 0n ? null : await readPolicyProposal({ ...parameters, proposalId: Number(pendingProposalId) }),
  }
}

/** For callers holding raw DER (e.g. a custodian key file): the `PolicyCustodian` form. */
export function toPolicyCustodian(sealingKeyDer: Uint8Array, approver: Address): PolicyCustodian {
  if (sealingKeyDer.length !== 120) throw new RangeError('sealingKeyDer: expected 120 bytes (P-384 SPKI DER)')
  return { sealingKey: bytesToHex(sealingKeyDer), approver: getAddress(approver) }
}
