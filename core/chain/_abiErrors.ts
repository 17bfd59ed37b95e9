/**
 * The typed failures of `core/chain`'s own RPC client and ABI codec. None is a `KmsError`:
 * the readers decide what each means (`_readErrors.ts`): only an {@link RpcResponseError}
 * that is an execution revert may read as "not found"; everything else is
 * `registry_unavailable`.
 */

/** Malformed return data (Solidity ABI spec, "Formal Specification of the Encoding"). */
export class AbiDecodingError extends Error {
  override readonly name = 'AbiDecodingError'
}
