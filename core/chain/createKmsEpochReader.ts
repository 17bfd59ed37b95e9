/**
 * Typed reads of KMSRegistry's key epochs (issue 16, PROTOCOL §7.7, §9.1 "Key epochs"): what
 * `node_tick` step 5 reads, the per-app key epoch, and the views the rotation runbook needs.
 */
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'
import { requireId, requireWallet } from './_arguments'
import { readOrUnavailable } from './_readErrors'
import { readRegistryView } from './_readRegistryView'
import { toSafeNumber } from './_records'
import type { ChainRpc } from './_rpcClient'
import { kmsRegistryAbi } from './kmsRegistryAbi'
import type { ChainEpoch, KmsEpochReader } from './types'

export interface CreateKmsEpochReaderParameters {
  rpc: ChainRpc
  address: Wallet
}

/**
 * Epochs, cluster and app alike, are below 2^32 (the derivation encodes them in 4 bytes,
 * §5.2); the constructor bounds RETIRE_GRACE_SECONDS the same way.
 */
const MAX_UINT32 = 0xffff_ffff

function malformed(details: string): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable', { details: `malformed result: ${details}` })
}

/** An epoch number from the chain; above 2^32 − 1 the answer is broken, never truncated. */
function toEpoch(value: bigint, field: string): number {
  if (value > BigInt(MAX_UINT32)) throw malformed(`${field} is above 2^32 - 1`)
  return Number(value)
}

function requireEpoch(epoch: number): bigint {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_UINT32) {
    throw new RangeError(`epoch: expected an integer in 0..2^32 - 1, got ${String(epoch)}`)
  }
  return BigInt(epoch)
}

const isZero = (bytes: Uint8Array) => bytes.every((byte) => byte === 0)

/**
 * KMSRegistry's epoch views never revert, so every failure, a revert included, is
 * `registry_unavailable` (as in `createKmsRegistryReader`).
 * @throws (from every method) KmsError `registry_unavailable` when the chain cannot be read or
 * answers outside the contract's bounds; RangeError/TypeError for a bad argument.
 */
export function createKmsEpochReader({ rpc, address }: CreateKmsEpochReaderParameters): KmsEpochReader {
  const kmsRegistry = requireWallet(address, 'kmsRegistry')
  const abi = kmsRegistryAbi

  async function readEpoch(epoch: number, blockNumber: bigint): Promise<ChainEpoch> {
    const args = [BigInt(epoch)] as const
    const [hash, retired] = await Promise.all([
      readOrUnavailable('masterSecretHashOf', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'masterSecretHashOf', args, blockNumber }),
      ),
      readOrUnavailable('isEpochRetired', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'isEpochRetired', args, blockNumber }),
      ),
    ])
    return { epoch, hash, retired }
  }

  return {
    /**
     * No multicall: the RPC client does no batching (`_jsonRpcRequest.ts`) and a dev chain has no
     * Multicall3. Instead every `eth_call` names the same block, read first, so the answer is
     * one consistent snapshot even if a rotation lands between two calls. An RPC that cannot
     * serve that block (a lagging replica behind a load balancer) fails the whole read.
     */
    async readEpochs() {
      const blockNumber = await readOrUnavailable('eth_blockNumber', () => rpc.blockNumber())
      const rawCurrent = await readOrUnavailable('currentEpoch', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'currentEpoch', args: [], blockNumber }),
      )
      const current = toEpoch(rawCurrent, 'currentEpoch')
      const epochs = await Promise.all((current === 0 ? [0] : [current, current - 1]).map((epoch) => readEpoch(epoch, blockNumber)))
      // The contract's invariants (§9.1): the current epoch is never retired, and a rotation
      // only leaves an epoch once its hash is committed, which no later call can zero.
      if (epochs[0]!.retired) throw malformed('the current epoch is retired')
      if (epochs[1] !== undefined && isZero(epochs[1].hash)) throw malformed('the previous epoch has no hash')
      return { current, epochs }
    },

    async appKeyEpoch(appId) {
      const id = requireId(appId, 'appId')
      const epoch = await readOrUnavailable('appKeyEpoch', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'appKeyEpoch', args: [id] }),
      )
      return toEpoch(epoch, 'appKeyEpoch')
    },

    async epochStartedAt(epoch) {
      const args = [requireEpoch(epoch)] as const
      const startedAt = await readOrUnavailable('epochStartedAt', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'epochStartedAt', args }),
      )
      return toSafeNumber(startedAt, 'epochStartedAt')
    },

    async migratedEpochOf(wallet) {
      const operator = requireWallet(wallet, 'wallet')
      const [reported, epoch] = await readOrUnavailable('migratedEpochOf', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'migratedEpochOf', args: [operator] }),
      )
      if (!reported && epoch !== 0n) throw malformed('migratedEpochOf has an epoch without a report')
      return { reported, epoch: toEpoch(epoch, 'migratedEpochOf') }
    },

    async recoveryPolicyEpoch(policyId) {
      const id = requireId(policyId, 'policyId')
      const [bound, epoch] = await readOrUnavailable('recoveryPolicyEpoch', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'recoveryPolicyEpoch', args: [id] }),
      )
      if (!bound) {
        if (epoch !== 0n) throw malformed('recoveryPolicyEpoch has an epoch without a binding')
        return undefined
      }
      return toEpoch(epoch, 'recoveryPolicyEpoch')
    },

    async retireGraceSeconds() {
      const seconds = await readOrUnavailable('RETIRE_GRACE_SECONDS', () =>
        readRegistryView(rpc, { address: kmsRegistry, abi, functionName: 'RETIRE_GRACE_SECONDS', args: [] }),
      )
      // The constructor bounds it to 1..2^32 − 1.
      if (seconds === 0n || seconds > BigInt(MAX_UINT32)) throw malformed('RETIRE_GRACE_SECONDS out of range')
      return Number(seconds)
    },
  }
}
