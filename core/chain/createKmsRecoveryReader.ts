/**
 * Typed reads of KMSRegistry's recovery policy and backup (issue 15, PROTOCOL §9.1). A
 * custodian reads its own sealed share with these `eth_call`s alone.
 */
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import { abiErrorName } from './_abiErrorName'
import { requireWallet } from './_arguments'
import { isExecutionRevert, readOrUnavailable, registryUnavailable } from './_readErrors'
import { readRegistryView } from './_readRegistryView'
import { toSafeNumber } from './_records'
import type { ChainRpc } from './_rpcClient'
import { kmsRegistryAbi } from './kmsRegistryAbi'
import type { KmsRecoveryReader, RecoveryBackup, RecoveryPolicy } from './types'

export interface CreateKmsRecoveryReaderParameters {
  rpc: ChainRpc
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
    if (isExecutionRevert(error) && abiErrorName(kmsRegistryAbi, error.data) === notFound) return undefined
    throw registryUnavailable(functionName, error)
  }
}

function malformed(details: string): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable', { details: `malformed result: ${details}` })
}

function requireBytes32(hash: Uint8Array, name: string): Uint8Array {
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new RangeError(`${name}: expected 32 bytes`)
  return hash.slice()
}

function requirePolicyId(policyId: number): bigint {
  if (!Number.isSafeInteger(policyId) || policyId < 0) throw new RangeError('policyId: expected a non-negative integer')
  return BigInt(policyId)
}

/**
 * @throws (from every method) KmsError `registry_unavailable` when the chain cannot be read
 * or answers something outside the contract's bounds; RangeError for a bad argument.
 */
export function createKmsRecoveryReader({ rpc, address }: CreateKmsRecoveryReaderParameters): KmsRecoveryReader {
  const kmsRegistry = requireWallet(address, 'kmsRegistry')
  const abi = kmsRegistryAbi

  async function recoveryPolicy(policyId: number): Promise<RecoveryPolicy | undefined> {
    const id = requirePolicyId(policyId)
    // Policy 0 means "none" by definition; the contract reverts NoRecoveryPolicy for it too.
    if (id === 0n) return undefined
    const result = await readOrNone('getRecoveryPolicy', 'NoRecoveryPolicy', () =>
      readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'getRecoveryPolicy', args: [id] }),
    )
    if (result === undefined) return undefined
    const [threshold, rawCustodians] = result
    const count = rawCustodians.length
    if (count < 1 || count > MAX_CUSTODIANS) throw malformed(`custodian count ${count}`)
    if (threshold < 1 || threshold > count) throw malformed(`threshold ${threshold} of ${count}`)
    const custodians = rawCustodians.map((custodian, index) => {
      if (custodian.sealingKey.length !== SEALING_KEY_BYTES) throw malformed(`custodian ${index} sealing key length`)
      return { sealingKeyDer: custodian.sealingKey, approver: custodian.approver }
    })
    return { policyId, threshold, custodians }
  }

  return {
    async activeRecoveryPolicy() {
      const id = await readOrUnavailable('recoveryPolicyId', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'recoveryPolicyId', args: [] }),
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
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'getBackup', args: [hash, id] }),
      )
      if (result === undefined) return undefined
      const [publisher, publishedAt, rawCommitments] = result
      if (rawCommitments.length < 1 || rawCommitments.length > MAX_CUSTODIANS) {
        throw malformed(`share count ${rawCommitments.length}`)
      }
      return {
        secretHash: hash,
        policyId,
        publisher,
        publishedAt: toSafeNumber(publishedAt, 'publishedAt'),
        // bytes32: the codec already gave each exactly 32 bytes.
        shareCommitments: rawCommitments,
      }
    },

    async sealedShare(secretHash, policyId, index) {
      const hash = requireBytes32(secretHash, 'secretHash')
      const id = requirePolicyId(policyId)
      if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_CUSTODIANS) {
        throw new RangeError(`index: expected an integer in [0, ${MAX_CUSTODIANS})`)
      }
      const result = await readOrNone('getSealedShare', 'NoBackup', () =>
        readRegistryView(rpc, {
          address: kmsRegistry,
          abi,
          functionName: 'getSealedShare',
          args: [hash, id, BigInt(index)],
        }),
      )
      if (result === undefined) return undefined
      const [sealedShare, commitment] = result
      if (sealedShare.length < 1 || sealedShare.length > MAX_SEALED_SHARE_BYTES) {
        throw malformed(`sealed share length ${sealedShare.length}`)
      }
      return { sealedShare, commitment }
    },
  }
}
