/**
 * The viem client behind the node's transactions (PROTOCOL §9.3) and its `eth_chainId`:
 * signing, fee and nonce reads need viem's actions. Registry *reads* do not go through it
 * (`_rpcClient.ts`), so the app SDK, which only reads, carries no viem.
 */
import { createClient, http, type Client } from 'viem'
import { RPC_TIMEOUT_MS, type RpcClientParameters } from './_rpcClient'

/**
 * A bare client: callers import only the actions they use from `viem/actions`, which keeps
 * the bundle small.
 * - No retries: retrying is the caller's policy (PROTOCOL §7.1 ⟳).
 * - No batching, so one failed call never drags others down with it.
 * - No CCIP-read (EIP-3668): viem would otherwise follow URLs found in revert data, letting
 *   whoever controls the RPC make the node fetch arbitrary URLs. §3.3 and §9.3 call for
 *   plain `eth_call`s and nothing else.
 */
export function createTransactionClient({ rpcUrl, fetch, timeoutMs = RPC_TIMEOUT_MS }: RpcClientParameters): Client {
  return createClient({
    ccipRead: false,
    transport: http(rpcUrl, { fetchFn: fetch, timeout: timeoutMs, retryCount: 0 }),
  })
}
