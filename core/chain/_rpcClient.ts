/**
 * The one way `core/chain` reads the chain (PROTOCOL §3.3, §9.3): plain `eth_call`s and
 * `eth_blockNumber` over the injected `fetch`, through `_jsonRpcRequest.ts`. It replaces
 * viem's client for reads: the app SDK then ships no viem, and an idle node's tick no longer
 * runs viem's `readContract` stack.
 */
import type { Wallet } from '../encoding'
import { parseHex } from '../encoding'
import { jsonRpcRequest } from './_jsonRpcRequest'
import { RpcTransportError } from './_rpcErrors'

export interface RpcClientParameters {
  /** The chain RPC (`NODE_URL`, PROTOCOL §11). */
  rpcUrl: string
  /** Defaults to the global `fetch`, looked up per request (nothing runs at import time). */
  fetch?: typeof fetch
  /** Per request, headers and body together; PROTOCOL §9.3 and §12.3 fix 10 s. */
  timeoutMs?: number
  /** The largest answer read, in bytes; a longer one is cut off and fails. */
  maxAnswerBytes?: number
}

export const RPC_TIMEOUT_MS = 10_000

/**
 * 1 MiB: the largest honest registry answer (a long `getActiveInstances`) is far below it,
 * and a hostile RPC cannot make a reader buffer more.
 */
export const MAX_RPC_ANSWER_BYTES = 1024 * 1024

/** What the registry readers need from the chain, and nothing more. */
export interface ChainRpc {
  /**
   * `eth_call` of `data` on `to`, at `blockNumber` or else `latest`.
   * @returns the return data (empty when `to` has no code).
   */
  call(request: { to: Wallet; data: `0x${string}` }, blockNumber?: bigint): Promise<Uint8Array>
  /** `eth_blockNumber`. */
  blockNumber(): Promise<bigint>
}

const QUANTITY = /^0x[0-9a-fA-F]{1,64}$/

/**
 * Nothing touches the network until a method is called. Each request gets the next id, so
 * an answer meant for another request is recognised and refused.
 * @throws (from each method) RpcTimeoutError, RpcResponseError or RpcTransportError
 *   (`_rpcErrors.ts`).
 */
export function createRpcClient({ rpcUrl, fetch, timeoutMs = RPC_TIMEOUT_MS, maxAnswerBytes = MAX_RPC_ANSWER_BYTES }: RpcClientParameters): ChainRpc {
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs: expected a positive integer')
  const endpoint = { url: rpcUrl, fetch, timeoutMs, maxAnswerBytes }
  let nextId = 0
  const request = (method: string, params: readonly unknown[]) => jsonRpcRequest(endpoint, (nextId = (nextId % Number.MAX_SAFE_INTEGER) + 1), method, params)

  return {
    async call({ to, data }, blockNumber) {
      const block = blockNumber === undefined ? 'latest' : `0x${blockNumber.toString(16)}`
      const result = await request('eth_call', [{ to, data }, block])
      const bytes = typeof result === 'string' && result.startsWith('0x') ? parseHex(result) : undefined
      if (bytes === undefined) throw new RpcTransportError('eth_call: the result is not hex data')
      return bytes
    },

    async blockNumber() {
      const result = await request('eth_blockNumber', [])
      if (typeof result !== 'string' || !QUANTITY.test(result)) throw new RpcTransportError('eth_blockNumber: the result is not a quantity')
      return BigInt(result)
    },
  }
}
