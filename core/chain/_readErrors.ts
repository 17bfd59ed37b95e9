/**
 * How a failed registry read is classified (PROTOCOL §3.3 steps 1, 4 and 5): a contract
 * revert may mean "not found"; everything else (transport errors, timeouts, empty or
 * undecodable return data) is `registry_unavailable`, never "not found".
 */
import { KmsError } from '../errors'
import { AbiDecodingError } from './_abiErrors'
import { RpcResponseError, RpcTimeoutError, RpcTransportError } from './_rpcErrors'

/**
 * True only when the RPC node itself says the call reverted, in a 2xx answer: JSON-RPC code
 * 3, or a message that says "revert" (geth answers -32000 "execution reverted" for a revert
 * without data). viem would also call any -32603 "internal error" a revert; a struggling
 * node must not pass for "not found", so that label is not trusted here. Nor is an HTTP 5xx
 * whose body happens to say "execution reverted": a failing proxy or gateway is an outage.
 */
export function isExecutionRevert(error: unknown): error is RpcResponseError {
  if (!(error instanceof RpcResponseError)) return false
  if (error.httpStatus < 200 || error.httpStatus >= 300) return false
  return error.code === 3 || /revert/i.test(error.rpcMessage)
}

/** Only the chain client's own errors carry a message fit for the logs. */
function describeReadFailure(cause: unknown): string {
  const known = cause instanceof RpcTransportError || cause instanceof RpcTimeoutError || cause instanceof RpcResponseError || cause instanceof AbiDecodingError
  return known ? cause.message : 'read failed'
}

export function registryUnavailable(functionName: string, cause: unknown): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable', {
    cause,
    details: `${functionName}: ${describeReadFailure(cause)}`,
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
