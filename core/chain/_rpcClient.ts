/** The one way `core/chain` talks to the chain RPC: viem's fetch-based http transport. */
import { createClient, http, type Client } from 'viem'

export interface RpcClientParameters {
  /** The chain RPC (`NODE_URL`, PROTOCOL §11). */
  rpcUrl: string
  /** Defaults to the global `fetch`, looked up per request (nothing runs at import time). */
  fetch?: typeof fetch
  /** Per request; PROTOCOL §9.3 and §12.3 fix 10 s. */
  timeoutMs?: number
}

export const RPC_TIMEOUT_MS = 10_000

/**
 * A bare client: callers import only the actions they use from `viem/actions`, which keeps
 * the bundle small.
 * - No retries: retrying is the caller's policy (PROTOCOL §7.1 ⟳).
 * - No batching, so one failed call never drags others down with it.
 * - No CCIP-read (EIP-3668): viem would otherwise follow URLs found in revert data, letting
 *   whoever controls the RPC make the node fetch arbitrary URLs. §3.3 and §9.3 call for
 *   plain `eth_call`s and nothing else.
 */
export function createRpcClient({ rpcUrl, fetch, timeoutMs = RPC_TIMEOUT_MS }: RpcClientParameters): Client {
  return createClient({
    ccipRead: false,
    transport: http(rpcUrl, { fetchFn: fetch, timeout: timeoutMs, retryCount: 0 }),
  })
}
