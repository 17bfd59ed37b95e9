/**
 * A cluster of registered Miniflare nodes (`dist/kms.mjs`) on a dev chain: the first holds a
 * preloaded secret and commits it, the others join from it, as `npm start` forms its devnet.
 */
import type { Wallet } from '../../core/encoding'
import type { DevChain } from './devChain'
import { registerKmsNode, startMiniflareNode, tickUntil, type TestNode } from './kmsNodes'

export interface ClusterMember {
  node: TestNode
  wallet: Wallet
}

/** Starts one Miniflare node and registers it as an ACTIVE instance of the KMS app. */
export async function addMiniflareMember(chain: DevChain, overrides: Record<string, string> = {}): Promise<ClusterMember> {
  const node = await startMiniflareNode(chain, overrides)
  const { wallet } = await registerKmsNode(chain, node)
  return { node, wallet }
}

/**
 * `size` members, all serving: the first with `masterSecretHex`, the rest synced from it.
 * Each then ticks once more, so that every peer cache holds every member.
 */
export async function startMiniflareCluster(chain: DevChain, options: { size: number; masterSecretHex: string }): Promise<ClusterMember[]> {
  const members = [await addMiniflareMember(chain, { MASTER_SECRET_HEX: options.masterSecretHex })]
  await tickUntil(members[0]!.node, (status) => status.node.service_available)
  for (let index = 1; index < options.size; index++) members.push(await addMiniflareMember(chain))
  await members[0]!.node.tick('node_tick')
  for (const member of members.slice(1)) await tickUntil(member.node, (status) => status.node.service_available, { attempts: 3 })
  for (const member of members) await member.node.tick('node_tick')
  return members
}
