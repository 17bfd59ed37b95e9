/**
 * Typed reads of KMSRegistry's recovery policy and backup (issue 15, PROTOCOL §9.1). A
 * custodian reads its own sealed share with these `eth_call`s alone.
 */
import { BaseError, bytesToHex, decodeErrorResult, hexToBytes, isHex, RpcRequestError, type Client, type Hex } from 'viem'
import { readContract } from 'viem/actions'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import { requireWallet } from './_arguments'
import { isExecutionRevert, readOrUnavailable } from './_readErrors'
import { toSafeNumber, toWallet } from './_records'
import { kmsRegistryAbi } from './kmsRegistryAbi'
import type { KmsRecoveryReader, RecoveryBackup, RecoveryPolicy } from './types'

export interface CreateKmsRecoveryReaderParameters {
  client: Client
  address: Wallet
}

/** The contract's bounds (KMSRegistry MAX_CUSTODIANS, SEALING_KEY_BYTES, MAX_SEALED_SHARE_BYTES). */
const MAX_CUSTODIANS = 16
const SEALING_KEY_BYTES = 120
const MAX_SEALED_SHARE_BYTES = 1024

type NotFoundError = 'NoRecoveryPolicy' | 'NoBackup'

/**
 * `undefined` only when the revert data decodes to exactly `notFound`: a revert without
 * data, with another error, or any transport failure must not pass for "none" (a node would
 * then publish a backup, or a custodian conclude there is nothing to recover, on an outage).
 * @throws KmsError `registry_unavailable` for every other failure and every malformed result.
 */
async function readOrNone<T>(functionName: string, notFound: NotFoundError, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof KmsError) throw error
    if (isExecutionRevert(error) && revertErrorName(error) === notFound) return undefined
    throw new KmsError('registry_unavailable', 'Registry unavailable', {
      cause: error,
      details: `${functionName}: ${error instanceof BaseError ? error.shortMessage : 'read failed'}`,
    })
  }
}

function revertErrorName(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined
  const rpcError = error.walk((cause) => cause instanceof RpcRequestError)
  const data: unknown = rpcError instanceof RpcRequestError ? rpcError.data : undefined
  // A bare custom error is its 4-byte selector and nothing else.
  if (!isHex(data) || data.length !== 10) return undefined
  try {
    return decodeErrorResult({ abi: kmsRegistryAbi, data }).errorName
  } catch {
    return undefined
  }
}

function malformed(details: string): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable', { details: `malformed result: ${details}` })
}

function requireBytes32(hash: Uint8Array, name: string): Hex {
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new RangeError(`${name}: expected 32 bytes`)
  return bytesToHex(hash)
}

function requirePolicyId(policyId: number): bigint {
  if (!Number.isSafeInteger(policyId) || policyId < 0) throw new RangeError('policyId: expected a non-negative integer')
  return BigInt(policyId)
}

function commitment(value: Hex, field: string): Uint8Array {
  const bytes = hexToBytes(value)
  if (bytes.length !== 32) throw malformed(`${field} is not 32 bytes`)
  return bytes
}

/**
 * @throws (from every method) KmsError `registry_unavailable` when the chain cannot be read
 * or answers something outside the contract's bounds; RangeError for a bad argument.
 */
export function createKmsRecoveryReader({ client, address }: CreateKmsRecoveryReaderParameters): KmsRecoveryReader {
  const kmsRegistry = requireWallet(address, 'kmsRegistry')

  async function recoveryPolicy(policyId: number): Promise<RecoveryPolicy | undefined> {
    const id = requirePolicyId(policyId)
    // Policy 0 means "none" by definition; the contract reverts NoRecoveryPolicy for it too.
    if (id === 0n) return undefined
    const result = await readOrNone('getRecoveryPolicy', 'NoRecoveryPolicy', () =>
      readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'getRecoveryPolicy', args: [id] }),
    )
    if (result === undefined) return undefined
    const [threshold, rawCustodians] = result
    const count = rawCustodians.length
    if (count < 1 || count > MAX_CUSTODIANS) throw malformed(`custodian count ${count}`)
    if (threshold < 1 || threshold > count) throw malformed(`threshold ${threshold} of ${count}`)
    const custodians = rawCustodians.map((custodian, index) => {
      const sealingKeyDer = hexToBytes(custodian.sealingKey)
      if (sealingKeyDer.length !== SEALING_KEY_BYTES) throw malformed(`custodian ${index} sealing key length`)
      return { sealingKeyDer, approver: toWallet(custodian.approver) }
    })
    return { policyId, threshold, custodians }
  }

  return {
    async activeRecoveryPolicy() {
      const id = await readOrUnavailable('recoveryPolicyId', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'recoveryPolicyId' }),
      )
      const policyId = toSafeNumber(id, 'recoveryPolicyId')
      if (policyId === 0) return undefined
      const policy = await recoveryPolicy(policyId)
      // The active id names a policy; if the chain says it does not exist, the answer is broken.
      if (policy === undefined) throw malformed(`active policy ${policyId} not found`)
      return policy
    },

    recoveryPolicy,

    async backup(secretHash, policyId): Promise<RecoveryBackup | undefined> {
      const hash = requireBytes32(secretHash, 'secretHash')
      const id = requirePolicyId(policyId)
      const result = await readOrNone('getBackup', 'NoBackup', () =>
        readContract(client, { address: kmsRegistry, abi: kmsRegistryAbi, functionName: 'getBackup', args: [hash, id] }),
      )
      if (result === undefined) return undefined
      const [publisher, publishedAt, rawCommitments] = result
      if (rawCommitments.length < 1 || rawCommitments.length > MAX_CUSTODIANS) {
        throw malformed(`share count ${rawCommitments.length}`)
      }
      return {
        secretHash: hexToBytes(hash),
        policyId,
        publisher: toWallet(publisher),
        publishedAt: toSafeNumber(publishedAt, 'publishedAt'),
        shareCommitments: rawCommitments.map((value, index) => commitment(value, `shareCommitments[${index}]`)),
      }
    },

    async sealedShare(secretHash, policyId, index) {
      const hash = requireBytes32(secretHash, 'secretHash')
      const id = requirePolicyId(policyId)
      if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_CUSTODIANS) {
        throw new RangeError(`index: expected an integer in [0, ${MAX_CUSTODIANS})`)
      }
      const result = await readOrNone('getSealedShare', 'NoBackup', () =>
        readContract(client, {
          address: kmsRegistry,
          abi: kmsRegistryAbi,
          functionName: 'getSealedShare',
          args: [hash, id, BigInt(index)],
        }),
      )
      if (result === undefined) return undefined
      const sealedShare = hexToBytes(result[0])
      if (sealedShare.length < 1 || sealedShare.length > MAX_SEALED_SHARE_BYTES) {
        throw malformed(`sealed share length ${sealedShare.length}`)
      }
      return { sealedShare, commitment: commitment(result[1], 'commitment') }
    },
  }
}
