/**
 * KMS node discovery the way the runtime's own client does it (RUNTIME.md §1 "Discovery"):
 * the registry is the only source of node identity, never `/status` (PROTOCOL §3.4).
 */
import { INSTANCE_STATUS, type InstanceRecord, type NovaAppRegistryReader } from '../chain/types'
import type { Wallet } from '../encoding'
import { isKmsError } from '../errors'
import { KmsRegistryUnavailableError } from './runtimeErrors'

/** A KMS node as the registry lists it. */
export interface DiscoveredKmsNode {
  /** The instance URL with a scheme (`https://` added when it had none). */
  readonly url: string
  readonly wallet: Wallet
  /** The registered teePubkey bytes (non-empty; DER SPKI for a well-formed registration). */
  readonly teePubkeyDer: Uint8Array
  readonly instanceId: number
}

export interface DiscoverKmsNodesParameters {
  registry: Pick<NovaAppRegistryReader, 'getActiveInstances' | 'getInstanceByWallet'>
  kmsAppId: number
}

const SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//

/** RUNTIME.md §1: an `instanceUrl` without a scheme gets `https://`. */
export function withDefaultScheme(url: string): string {
  return SCHEME.test(url) ? url : `https://${url}`
}

function isUsableKmsInstance(instance: InstanceRecord | undefined, kmsAppId: number): instance is InstanceRecord {
  return (
    instance !== undefined &&
    instance.appId === kmsAppId &&
    instance.status === INSTANCE_STATUS.ACTIVE &&
    instance.zkVerified &&
    instance.teePubkey.length > 0 &&
    // Not one of the runtime's rules, but an instance without a URL cannot be reached at
    // all; keeping it would only add a failing attempt to every round.
    instance.instanceUrl !== ''
  )
}

/**
 * Lists the KMS nodes: `getActiveInstances(kmsAppId)`, then `getInstanceByWallet` for each,
 * keeping ACTIVE, zkVerified instances of the KMS app with a non-empty teePubkey, sorted by
 * URL (code-unit order).
 * @throws KmsRegistryUnavailableError when a registry read fails.
 */
export async function discoverKmsNodes({ registry, kmsAppId }: DiscoverKmsNodesParameters): Promise<DiscoveredKmsNode[]> {
  try {
    const wallets = await registry.getActiveInstances(kmsAppId)
    const instances = await Promise.all(wallets.map((wallet) => registry.getInstanceByWallet(wallet)))
    return instances
      .filter((instance) => isUsableKmsInstance(instance, kmsAppId))
      .map((instance) => ({
        url: withDefaultScheme(instance.instanceUrl),
        wallet: instance.teeWalletAddress,
        teePubkeyDer: instance.teePubkey,
        instanceId: instance.instanceId,
      }))
      .sort((left, right) => (left.url < right.url ? -1 : left.url > right.url ? 1 : 0))
  } catch (error) {
    // The readers report every transport failure as `registry_unavailable` (core/chain).
    if (isKmsError(error) && error.code === 'registry_unavailable') throw new KmsRegistryUnavailableError({ cause: error })
    throw error
  }
}
