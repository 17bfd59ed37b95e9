/** The log text of a failed KMSRegistry write, shared by the node's two transactions (§9.3). */
import { BaseError, decodeErrorResult, isHex, RpcRequestError } from 'viem'
import { kmsRegistryAbi } from './kmsRegistryAbi'

/**
 * The contract error's name when the simulation reverted (`reverted with X`), else a short
 * message. Callers match on the name (`BackupAlreadyPublished` is not a failure), so the text
 * is part of their contract.
 */
export function describeTransactionError(cause: unknown): string {
  if (!(cause instanceof BaseError)) return cause instanceof Error ? cause.message : 'failed'
  const rpcError = cause.walk((error) => error instanceof RpcRequestError)
  const data = rpcError instanceof RpcRequestError && isHex(rpcError.data) ? rpcError.data : undefined
  if (data !== undefined && data.length >= 10) {
    try {
      return `reverted with ${decodeErrorResult({ abi: kmsRegistryAbi, data }).errorName}`
    } catch {
      return `reverted with ${data.slice(0, 10)}` // an error this ABI does not know
    }
  }
  return cause.shortMessage
}
