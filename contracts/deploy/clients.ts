/** viem clients for the deploy and ops commands: one account, any chain. */
import { createPublicClient, createWalletClient, http, type Address, type Hex, type PublicClient } from 'viem'
import { privateKeyToAccount, type PrivateKeyAccount } from 'viem/accounts'

export interface ConnectParameters {
  rpcUrl: string
  /** 0x-prefixed 32-byte hex. */
  privateKey: Hex
}

export interface OpsClients {
  publicClient: PublicClient
  walletClient: ReturnType<typeof createWalletClient>
  account: PrivateKeyAccount
}

/** Receipts are polled every 250 ms: anvil mines at once, and a deploy session is short. */
const POLLING_INTERVAL_MS = 250

export function createReadClient(rpcUrl: string): PublicClient {
  return createPublicClient({ transport: http(rpcUrl), pollingInterval: POLLING_INTERVAL_MS })
}

export function connect({ rpcUrl, privateKey }: ConnectParameters): OpsClients {
  const account = privateKeyToAccount(privateKey)
  return {
    publicClient: createReadClient(rpcUrl),
    walletClient: createWalletClient({ account, transport: http(rpcUrl), pollingInterval: POLLING_INTERVAL_MS }),
    account,
  }
}

/** Outputs use the canonical wallet form of PROTOCOL §0 (lowercase), like the node does. */
export function canonical(address: Address): Address {
  return address.toLowerCase() as Address
}
