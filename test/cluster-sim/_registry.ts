/** The in-memory registry behind each replica's real peer cache (§7.2; DESIGN §5 allows one in unit tests). */
import type { PeerRegistryView } from '../../core/cluster'
import { parseHex, type Wallet } from '../../core/encoding'
import { DEV_CODE_MEASUREMENT } from '../helpers/devMeasurement'

/** The registry's instance record, as the peer cache reads it (§9.2). */
type InstanceRecord = NonNullable<Awaited<ReturnType<PeerRegistryView['getInstanceByWallet']>>>

export const KMS_APP_ID = 49

/** The P-384 base point (SEC1 uncompressed): a valid registered teePubkey (§7.2 step 3). */
const TEE_PUBKEY = parseHex(
  '04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7' +
    '3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f',
)!

/** Every wallet is an ACTIVE, zk-verified KMS instance of an enrolled version, in this order. */
export function simRegistry(wallets: readonly Wallet[]): PeerRegistryView {
  const instances = new Map<Wallet, InstanceRecord>(
    wallets.map((wallet, index) => [
      wallet,
      {
        instanceId: index + 1,
        appId: KMS_APP_ID,
        versionId: 1,
        operator: wallet,
        instanceUrl: `http://node${index}.sim`,
        teePubkey: TEE_PUBKEY,
        teeWalletAddress: wallet,
        zkVerified: true,
        status: 0,
        registeredAt: 0,
      },
    ]),
  )
  return {
    getActiveInstances: async () => [...wallets],
    getInstanceByWallet: async (wallet) => instances.get(wallet),
    getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
  }
}
