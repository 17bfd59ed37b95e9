/**
 * `custodian recover`, step 4 (issue 15, PROTOCOL §7.6): only after the node checked out
 * (checkNode.ts), the custodian reads its own sealed share by eth_call, opens it with its key
 * (the bound fields and the on-chain commitment are checked by `openRecoveryShare`), re-seals
 * it to the node's REGISTRY teePubkey, posts it, and verifies the node's receipt.
 */
import { createClient, http } from 'viem'
import { getChainId } from 'viem/actions'
import { createChainReaders, createKmsRecoveryReader, createRpcClient } from '../../core/chain'
import { bytesEqual, bytesToHex, type Wallet } from '../../core/encoding'
import { buildRecoveryShareSubmission, openRecoveryShare, openRecoveryShareReceipt, type RecoveryShareReceipt } from '../../core/recovery'
import type { Random } from '../../core/runtime'
import { fetchBounded, Refusal, type CheckedNode } from './checkNode'
import type { CustodianKeys } from './keyFile'

const RECEIPT_MAX_BYTES = 16 * 1024
const RPC_TIMEOUT_MS = 10_000

export interface ReleaseShareParams {
  nodeUrl: string
  rpcUrl: string
  kmsRegistry: Wallet
  node: CheckedNode
  keys: CustodianKeys
  random: Random
}

/** @throws Refusal naming what failed; the share is never sent anywhere but the checked node. */
export async function releaseShare(params: ReleaseShareParams): Promise<RecoveryShareReceipt & { custodianIndex: number }> {
  const client = createClient({ ccipRead: false, transport: http(params.rpcUrl, { timeout: RPC_TIMEOUT_MS, retryCount: 0 }) })
  const recovery = createKmsRecoveryReader({ rpc: createRpcClient({ rpcUrl: params.rpcUrl, timeoutMs: RPC_TIMEOUT_MS }), address: params.kmsRegistry })
  const { kmsRegistry } = createChainReaders({ rpcUrl: params.rpcUrl, novaAppRegistry: params.node.novaAppRegistry, kmsRegistry: params.kmsRegistry })
  const chain = async <T>(what: string, read: () => Promise<T>): Promise<T> => {
    try {
      return await read()
    } catch {
      throw new Refusal(`cannot read ${what} from the chain (fails closed)`)
    }
  }
  const secretHash = await chain('masterSecretHash', () => kmsRegistry.masterSecretHash())
  if (secretHash.every((byte) => byte === 0)) throw new Refusal('KMSRegistry has no master secret hash: there is nothing to recover')
  const policy = await chain('the active recovery policy', () => recovery.activeRecoveryPolicy())
  if (policy === undefined) throw new Refusal('KMSRegistry has no active recovery policy')
  const index = policy.custodians.findIndex((custodian) => bytesEqual(custodian.sealingKeyDer, params.keys.sealingPublicKeyDer))
  if (index < 0) throw new Refusal(`this key is not a custodian of the active policy ${policy.policyId}`)
  const sealed = await chain('the sealed share', () => recovery.sealedShare(secretHash, policy.policyId, index))
  if (sealed === undefined) throw new Refusal(`no backup is published for hash 0x${bytesToHex(secretHash)} under policy ${policy.policyId}`)
  const chainId = await chain('the chain id', () => getChainId(client))

  let share: Uint8Array
  try {
    share = await openRecoveryShare({
      custodianKey: params.keys.sealingKey,
      sealedShare: sealed.sealedShare,
      commitment: sealed.commitment,
      expected: { chainId, kmsRegistry: params.kmsRegistry, secretHash, policyId: policy.policyId, index, threshold: policy.threshold },
    })
  } catch (error) {
    throw new Refusal(`own sealed share refused: ${describe(error)}`)
  }
  const { envelope, requestNonce } = await buildRecoveryShareSubmission({
    custodianScalar: params.keys.sealingScalar,
    nodeTeePubkeyDer: params.node.instance.teePubkey,
    submission: { nodeWallet: params.node.wallet, secretHash, policyId: policy.policyId, custodianIndex: index, share },
    random: params.random,
  })
  share.fill(0)
  const { status, body } = await fetchBounded(`${params.nodeUrl.replace(/\/+$/, '')}/recovery/share`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(envelope),
    maxBytes: RECEIPT_MAX_BYTES,
  })
  if (status !== 200) {
    const error = typeof body === 'object' && body !== null ? (body as { code?: unknown; message?: unknown }) : {}
    throw new Refusal(`the node refused the share: HTTP ${status} ${String(error.code ?? '')} ${String(error.message ?? '')}`.trim())
  }
  try {
    const receipt = await openRecoveryShareReceipt({
      custodianScalar: params.keys.sealingScalar,
      nodeTeePubkeyDer: params.node.instance.teePubkey,
      body,
      requestNonce,
      expected: { nodeWallet: params.node.wallet, secretHash, policyId: policy.policyId },
    })
    return { ...receipt, custodianIndex: index }
  } catch (error) {
    throw new Refusal(`the node's receipt does not verify: ${describe(error)}`)
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const details = (error as { details?: unknown }).details
    return typeof details === 'string' ? `${error.message} (${details})` : error.message
  }
  return String(error)
}


