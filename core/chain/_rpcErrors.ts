/**
 * The typed failures of the JSON-RPC client (`_jsonRpcRequest.ts`). `message` is short and
 * safe to log; it becomes the `details` of a `registry_unavailable`.
 */

/** No usable answer: connection refused, an HTTP error without a JSON-RPC body, a redirect, an oversized or malformed answer. */
export class RpcTransportError extends Error {
  override readonly name = 'RpcTransportError'
}

/** The deadline passed before the whole answer, headers and body, had arrived. */
export class RpcTimeoutError extends Error {
  override readonly name = 'RpcTimeoutError'
  constructor(timeoutMs: number) {
    super(`The request took too long to respond (${timeoutMs} ms).`)
  }
}

/** The RPC answered with a JSON-RPC error object (JSON-RPC 2.0 §5.1). */
export class RpcResponseError extends Error {
  override readonly name = 'RpcResponseError'
  constructor(
    readonly code: number,
    readonly rpcMessage: string,
    /** The error's `data` when it is hex (a revert's return data), else `undefined`. */
    readonly data: string | undefined,
    /** The HTTP status it came with: only a 2xx answer can carry a trusted revert. */
    readonly httpStatus: number,
  ) {
    super(`RPC error ${code}: ${rpcMessage.slice(0, 200)}${httpStatus >= 200 && httpStatus < 300 ? '' : ` (HTTP ${httpStatus})`}`)
  }
}
