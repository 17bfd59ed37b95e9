/**
 * How a failed registry read is classified (PROTOCOL §3.3 steps 1, 4 and 5): a contract
 * revert may mean "not found"; everything else (transport errors, timeouts, empty or
 * undecodable return data) is `registry_unavailable`, never "not found".
 */
import { BaseError, RpcRequestError } from 'viem'
import { KmsError } from '../errors'

/**
 * True only when the RPC node itself says the call reverted: JSON-RPC code 3, or a message
 * that says "revert" (geth answers -32000 "execution reverted" for a revert without data).
 * viem would also call any -32603 "internal error" a revert; a struggling node must not pass
 * for "not found", so that label is not trusted here.
 */
export function isExecutionRevert(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false
  const rpcError = error.walk((cause) => cause instanceof RpcRequestError)
  if (!(rpcError instanceof RpcRequestError)) return false
  return rpcError.code === 3 || /revert/i.test(rpcError.details)
}

function registryUnavailable(functionName: string, cause: unknown): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable', {
    cause,
    details: `${functionName}: ${cause instanceof BaseError ? cause.shortMessage : 'read failed'}`,
  })
}

/**
 * Runs one read; any failure becomes `registry_unavailable`. A `KmsError` (a malformed
 * result found while parsing) passes through unchanged.
 */
export async function readOrUnavailable<T>(functionName: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof KmsError) throw error
    throw registryUnavailable(functionName, error)
  }
}

/** Like `readOrUnavailable`, but a revert reads as "not found" (`undefined`). */
export async function readOrNotFound<T>(functionName: string, read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read()
  } catch (error) {
    if (!(error instanceof KmsError) && isExecutionRevert(error)) return undefined
    throw error instanceof KmsError ? error : registryUnavailable(functionName, error)
  }
}
