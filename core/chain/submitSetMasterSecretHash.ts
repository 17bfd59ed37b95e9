/** The first of the node's two transactions: `setMasterSecretHash` (PROTOCOL §9.3, §7.1 step 6). */
import { bytesToHex, encodeFunctionData, type Hex } from 'viem'
import type { Wallet } from '../encoding'
import type { Tee } from '../tee'
import { requireWallet } from './_arguments'
import type { RpcClientParameters } from './_rpcClient'
import { sendNodeTransaction } from './_sendNodeTransaction'
import { kmsRegistryAbi } from './kmsRegistryAbi'

export interface SubmitSetMasterSecretHashParameters extends RpcClientParameters {
  kmsRegistry: Wallet
  /** keccak256 of the master secret, 32 bytes. */
  hash: Uint8Array
  /** The node's TEE: Odyn `sign-tx` in enclave mode, the stand-in in dev mode. */
  signer: Pick<Tee, 'getWallet' | 'signTransaction'>
}

/** PROTOCOL §9.3: a fixed gas limit, so no estimate is needed. */
export const SET_MASTER_SECRET_HASH_GAS = 0x493e0n

/**
 * Builds, signs and sends the transaction exactly as PROTOCOL §9.3 fixes it (EIP-1559, gas
 * 0x493e0, `maxFeePerGas = 2·baseFee(latest) + priority`, the pending nonce). It is simulated
 * first with `eth_call` from the node's wallet, so that a call the contract would refuse
 * (`MasterSecretHashAlreadySet`, `NotAuthorizedToSetHash`) fails here instead of spending gas
 * on a transaction that reverts on chain.
 * @returns the transaction hash. Inclusion is not awaited: the next `node_tick` reads the hash.
 * @throws KmsError `service_unavailable` (`failed to set master secret hash`, the §7.3 reason)
 * if a read, the simulation, the signature or the submission fails.
 */
export async function submitSetMasterSecretHash(parameters: SubmitSetMasterSecretHashParameters): Promise<Hex> {
  const { hash, signer } = parameters
  if (!(hash instanceof Uint8Array) || hash.length !== 32) throw new RangeError('hash: expected 32 bytes')
  const to = requireWallet(parameters.kmsRegistry, 'kmsRegistry')
  const data = encodeFunctionData({ abi: kmsRegistryAbi, functionName: 'setMasterSecretHash', args: [bytesToHex(hash)] })

  return sendNodeTransaction({
    ...parameters,
    to,
    data,
    functionName: 'setMasterSecretHash',
    gas: { fixed: SET_MASTER_SECRET_HASH_GAS },
    signer,
    failureMessage: 'failed to set master secret hash',
  })
}
