/**
 * `custodian status` (issue 15): what the chain says about recovery, by eth_call alone: the
 * master-secret hash, the active policy, whether a backup exists for (hash, policy), and,
 * with a key file, this custodian's position and whether its own sealed share opens and
 * matches its commitment (a bogus backup published by a rogue instance would not).
 */
import { createClient, http } from 'viem'
import { getChainId, readContract } from 'viem/actions'
import { createChainReaders, createKmsRecoveryReader, createRpcClient } from '../../core/chain'
import { bytesEqual, bytesToHex, type Wallet } from '../../core/encoding'
import { openRecoveryShare } from '../../core/recovery'
import { Refusal } from './checkNode'
import type { CustodianKeys } from './keyFile'

/**
 * The proposal views, inline: contracts/deploy reads the forge artifact from contracts/out,
 * which the bundled CLI (dist/cli.mjs) cannot reach. test/recovery drives these on anvil.
 */
const proposalViews = [
  { type: 'function', name: 'pendingProposalId', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint256' }] },
  {
    type: 'function',
    name: 'getPolicyProposal',
    stateMutability: 'view',
    inputs: [{ name: 'proposalId', type: 'uint256' }],
    outputs: [
      { name: 'basePolicyId', type: 'uint256' },
      { name: 'threshold', type: 'uint8' },
      { name: 'custodians', type: 'tuple[]', components: [{ name: 'sealingKey', type: 'bytes' }, { name: 'approver', type: 'address' }] },
      { name: 'executableAt', type: 'uint64' },
      { name: 'approvals', type: 'uint16' },
      { name: 'vetoes', type: 'uint16' },
      { name: 'state', type: 'uint8' },
    ],
  },
] as const

export interface RecoveryStatus {
  masterSecretHash: string
  pendingProposal: { proposalId: number; threshold: number; custodians: number; executableAt: number; approvals: number; vetoes: number } | null
  policy: { policyId: number; threshold: number; custodians: { index: number; approver: Wallet; sealingKeyDer: string }[] } | null
  backup: { publisher: Wallet; publishedAt: number } | null
  self?: { index: number | null; shareOpens: boolean | null; reason?: string }
}

export async function readRecoveryStatus(params: { rpcUrl: string; kmsRegistry: Wallet; sealingPublicKeyDer?: Uint8Array; keys?: () => Promise<CustodianKeys> }): Promise<RecoveryStatus> {
  const client = createClient({ ccipRead: false, transport: http(params.rpcUrl, { timeout: 10_000, retryCount: 0 }) })
  const recovery = createKmsRecoveryReader({ rpc: createRpcClient({ rpcUrl: params.rpcUrl, timeoutMs: 10_000 }), address: params.kmsRegistry })
  // Only the KMSRegistry reader is used; the NovaAppRegistry slot is never read here.
  const registry = createChainReaders({ rpcUrl: params.rpcUrl, novaAppRegistry: params.kmsRegistry, kmsRegistry: params.kmsRegistry }).kmsRegistry
  const chain = async <T>(what: string, read: () => Promise<T>): Promise<T> => {
    try {
      return await read()
    } catch {
      throw new Refusal(`cannot read ${what} from the chain`)
    }
  }
  const hash = await chain('masterSecretHash', () => registry.masterSecretHash())
  const policy = await chain('the active recovery policy', () => recovery.activeRecoveryPolicy())
  const hashSet = !hash.every((byte) => byte === 0)
  const backup = policy !== undefined && hashSet ? await chain('the backup', () => recovery.backup(hash, policy.policyId)) : undefined
  const pendingId = await chain('pendingProposalId', () => readContract(client, { address: params.kmsRegistry, abi: proposalViews, functionName: 'pendingProposalId' }))
  const proposal = pendingId === 0n ? undefined : await chain('the pending proposal', () => readContract(client, { address: params.kmsRegistry, abi: proposalViews, functionName: 'getPolicyProposal', args: [pendingId] }))
  const status: RecoveryStatus = {
    masterSecretHash: `0x${bytesToHex(hash)}`,
    pendingProposal: proposal === undefined ? null : { proposalId: Number(pendingId), threshold: proposal[1], custodians: proposal[2].length, executableAt: Number(proposal[3]), approvals: proposal[4], vetoes: proposal[5] },
    policy: policy === undefined ? null : { policyId: policy.policyId, threshold: policy.threshold, custodians: policy.custodians.map((c, index) => ({ index, approver: c.approver, sealingKeyDer: `0x${bytesToHex(c.sealingKeyDer)}` })) },
    backup: backup === undefined ? null : { publisher: backup.publisher, publishedAt: backup.publishedAt },
  }
  if (params.sealingPublicKeyDer !== undefined) {
    const own = params.sealingPublicKeyDer
    const index = policy?.custodians.findIndex((c) => bytesEqual(c.sealingKeyDer, own)) ?? -1
    status.self = { index: index < 0 ? null : index, shareOpens: null }
    if (index >= 0 && policy !== undefined && backup !== undefined && params.keys !== undefined) {
      const sealed = await chain('the sealed share', () => recovery.sealedShare(hash, policy.policyId, index))
      const keys = await params.keys()
      try {
        if (sealed === undefined) throw new Error('no sealed share')
        const share = await openRecoveryShare({
          custodianKey: keys.sealingKey,
          sealedShare: sealed.sealedShare,
          commitment: sealed.commitment,
          expected: { chainId: await getChainId(client), kmsRegistry: params.kmsRegistry, secretHash: hash, policyId: policy.policyId, index, threshold: policy.threshold },
        })
        share.fill(0)
        status.self.shareOpens = true
      } catch (error) {
        status.self.shareOpens = false
        const details = error instanceof Error ? (error as { details?: unknown }).details : undefined
        status.self.reason = error instanceof Error ? `${error.message}${typeof details === 'string' ? ` (${details})` : ''}` : String(error)
      }
    }
  }
  return status
}

export function formatRecoveryStatus(status: RecoveryStatus): string {
  const lines = [`master secret hash  ${status.masterSecretHash}`]
  if (status.policy === null) lines.push('recovery policy     none (no custodian can recover this cluster)')
  else {
    lines.push(`recovery policy     ${status.policy.policyId}: ${status.policy.threshold} of ${status.policy.custodians.length}`)
    for (const c of status.policy.custodians) lines.push(`  custodian ${c.index + 1}  approver ${c.approver}  key ${c.sealingKeyDer.slice(0, 18)}…${c.sealingKeyDer.slice(-16)}`)
  }
  const pending = status.pendingProposal
  lines.push(`pending proposal    ${pending === null ? 'none' : `${pending.proposalId}: ${pending.threshold} of ${pending.custodians}, ${pending.approvals} approval(s), ${pending.vetoes} veto(es), activatable from ${new Date(pending.executableAt * 1000).toISOString()} (check it: approve or veto)`}`)
  lines.push(`backup              ${status.backup === null ? 'none for (hash, policy)' : `published by ${status.backup.publisher} at ${new Date(status.backup.publishedAt * 1000).toISOString()}`}`)
  if (status.self !== undefined) {
    lines.push(`this key            ${status.self.index === null ? 'NOT in the active policy' : `custodian ${status.self.index + 1}`}`)
    if (status.self.shareOpens !== null) lines.push(`own share           ${status.self.shareOpens ? 'opens and matches its commitment' : `DOES NOT OPEN: ${status.self.reason ?? ''}`}`)
  }
  return lines.join('\n')
}
