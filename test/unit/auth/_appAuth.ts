/**
 * Fixtures for the app-authentication suites (PROTOCOL §3): an in-memory NovaAppRegistry
 * behind `AppRegistryView` (DESIGN §5 allows it in unit tests), the §5.7 app and node keys,
 * PoP headers, and dev attestation documents signed by the dev root (§10.3).
 */
import { codeMeasurement } from '../../../core/attestation'
import type { AppRegistryView } from '../../../core/auth'
import type { AppRecord, InstanceRecord, VersionRecord } from '../../../core/chain'
import { importP384PrivateKey, signMessageWithKey } from '../../../core/crypto'
import { bytesToBase64, parseBase64, parseHex, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { issueDevAttestation } from '../../../core/tee'
import { seededRandom } from '../../helpers/fakeClock'

// PROTOCOL §5.7 keys.
export const APP_KEY = parseHex('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')!
export const APP_WALLET: Wallet = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
export const NODE_WALLET: Wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
export const OTHER_WALLET: Wallet = '0x1111111111111111111111111111111111111111'
export const NOW_S = 1_767_225_600
export const APP_ID = 7
export const VERSION_ID = 2
export const INSTANCE_ID = 11

/** PCR0..2 of the app's enclave image; anything else stays zero. */
export const APP_PCRS: ReadonlyMap<number, Uint8Array> = new Map([
  [0, new Uint8Array(48).fill(1)],
  [1, new Uint8Array(48).fill(2)],
  [2, new Uint8Array(48).fill(3)],
])
/** keccak256(PCR0‖PCR1‖PCR2): the version's `codeMeasurement`. */
export const APP_MEASUREMENT = codeMeasurement(new Map(APP_PCRS))

/** The app's registered teePubkey: §5.7 key A, DER SPKI. */
export async function appTeePubkeyDer(): Promise<Uint8Array> {
  return (await importP384PrivateKey(new Uint8Array(48).fill(0x11))).publicKey.der
}

export function instanceRecord(teePubkey: Uint8Array, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    instanceId: INSTANCE_ID, appId: APP_ID, versionId: VERSION_ID, operator: OTHER_WALLET, instanceUrl: 'https://app.example',
    teePubkey, teeWalletAddress: APP_WALLET, zkVerified: true, status: 0, registeredAt: 1, ...overrides,
  }
}

export function appRecord(overrides: Partial<AppRecord> = {}): AppRecord {
  return {
    appId: APP_ID, owner: OTHER_WALLET, teeArch: new Uint8Array(32), dappContract: OTHER_WALLET, metadataUri: '',
    latestVersionId: VERSION_ID, createdAt: 1, status: 0, appWallet: OTHER_WALLET, ...overrides,
  }
}

export function versionRecord(overrides: Partial<VersionRecord> = {}): VersionRecord {
  return {
    versionId: VERSION_ID, versionName: 'v2', codeMeasurement: APP_MEASUREMENT, imageUri: '', auditUrl: '', auditHash: '',
    githubRunId: '', status: 0, enrolledAt: 1, enrolledBy: OTHER_WALLET, ...overrides,
  }
}

export function registryUnavailable(): KmsError {
  return new KmsError('registry_unavailable', 'Registry unavailable')
}

/**
 * An in-memory registry: `undefined` entries mean "not found"; a `fail` entry makes that read
 * a transport error. Every read is recorded.
 */
export class MemoryRegistry implements AppRegistryView {
  readonly instances = new Map<Wallet, InstanceRecord>()
  readonly apps = new Map<number, AppRecord>()
  readonly versions = new Map<string, VersionRecord>()
  readonly fail = { instance: false, app: false, version: false }
  readonly reads: string[] = []

  static async standard(): Promise<MemoryRegistry> {
    const registry = new MemoryRegistry()
    registry.instances.set(APP_WALLET, instanceRecord(await appTeePubkeyDer()))
    registry.apps.set(APP_ID, appRecord())
    registry.versions.set(`${APP_ID}/${VERSION_ID}`, versionRecord())
    return registry
  }

  async getInstanceByWallet(wallet: Wallet): Promise<InstanceRecord | undefined> {
    this.reads.push(`instance ${wallet}`)
    if (this.fail.instance) throw registryUnavailable()
    return this.instances.get(wallet)
  }

  async getApp(appId: number): Promise<AppRecord | undefined> {
    this.reads.push(`app ${appId}`)
    if (this.fail.app) throw registryUnavailable()
    return this.apps.get(appId)
  }

  async getVersion(appId: number, versionId: number): Promise<VersionRecord | undefined> {
    this.reads.push(`version ${appId}/${versionId}`)
    if (this.fail.version) throw registryUnavailable()
    return this.versions.get(`${appId}/${versionId}`)
  }
}

/** PoP headers of the §5.7 app key for `nonce`, signed to the node. */
export function popHeaders(nonce: string, ts: number = NOW_S, key: Uint8Array = APP_KEY) {
  return {
    signature: signMessageWithKey(key, `NovaKMS:AppAuth:${nonce}:${NODE_WALLET}:${ts}`),
    nonce,
    timestamp: String(ts),
    wallet: null as string | null,
  }
}

/** A dev attestation document (base64, as `X-Nitro-Attestation` carries it) for `nonce`. */
export async function attestationHeader(options: {
  nonce: string | Uint8Array
  nowMs: number
  wallet?: string
  pcrs?: ReadonlyMap<number, Uint8Array>
  seed?: number
}): Promise<string> {
  const nonce = typeof options.nonce === 'string' ? parseBase64(options.nonce)! : options.nonce
  const document = await issueDevAttestation({
    request: { nonce },
    // The issuer injects this as user_data.eth_addr verbatim; tests pass non-wallets on purpose.
    wallet: (options.wallet ?? APP_WALLET) as Wallet,
    teePublicKeyDer: await appTeePubkeyDer(),
    nowMs: options.nowMs,
    random: seededRandom(options.seed ?? 5),
    ...(options.pcrs === undefined ? { pcrs: APP_PCRS } : { pcrs: options.pcrs }),
  })
  return bytesToBase64(document)
}
