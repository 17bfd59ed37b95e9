/**
 * The peer cache (PROTOCOL §7.2): the KMS nodes the registry lists, filtered to those a node
 * may talk to. It is replaced atomically and refreshed single-flight.
 */
import type { InstanceRecord } from '../chain'
import { parseP384PublicKey } from '../crypto'
import type { Wallet } from '../encoding'
import type { Mode } from '../config'
import type { Clock } from '../runtime'

/** The registry reads a refresh needs (uncached: a refresh must see the chain as it is). */
export interface PeerRegistryView {
  getActiveInstances(appId: number): Promise<Wallet[]>
  getInstanceByWallet(wallet: Wallet): Promise<InstanceRecord | undefined>
  getVersion(appId: number, versionId: number): Promise<{ status: number; codeMeasurement: Uint8Array } | undefined>
}

export interface StatusProbe {
  reachable: boolean
  httpCode: number | null
  probeMs: number | null
  checkedAtMs: number
}

export interface Peer {
  wallet: Wallet
  /** The registered `instanceUrl`, as registered (shown in `/nodes` and `synced_from`). */
  url: string
  /** DER SPKI of the registered teePubkey. */
  teePubkeyDer: Uint8Array
  instance: InstanceRecord
  /** The registered version's status and `codeMeasurement`: peer attestation checks both (§4.5). */
  version: { status: number; codeMeasurement: Uint8Array }
  probe: StatusProbe | undefined
}

/** Joins a peer URL and a path, dropping trailing slashes first (§4.1, as in (c)). */
export function peerEndpoint(url: string, path: string): string {
  return url.replace(/\/+$/, '') + path
}

function isUsableUrl(text: string, mode: Mode): boolean {
  if (!URL.canParse(text)) return false
  const url = new URL(text)
  if (url.hostname === '' || url.username !== '' || url.password !== '') return false
  return mode === 'enclave' ? url.protocol === 'https:' : url.protocol === 'http:' || url.protocol === 'https:'
}

export interface PeerCacheOptions {
  registry: PeerRegistryView
  kmsAppId: number
  mode: Mode
  clock: Clock
  ttlSeconds: number
}

export class PeerCache {
  readonly #options: PeerCacheOptions
  #peers: readonly Peer[] = []
  #refreshedAtMs: number | undefined
  #inFlight: Promise<readonly Peer[]> | undefined

  constructor(options: PeerCacheOptions) {
    this.#options = options
  }

  get peers(): readonly Peer[] {
    return this.#peers
  }

  find(wallet: Wallet): Peer | undefined {
    return this.#peers.find((peer) => peer.wallet === wallet)
  }

  isStale(): boolean {
    return this.#refreshedAtMs === undefined || this.#options.clock.nowMs() - this.#refreshedAtMs >= this.#options.ttlSeconds * 1000
  }

  /** Rebuilds the cache from the registry; concurrent callers share one refresh. */
  refresh(): Promise<readonly Peer[]> {
    this.#inFlight ??= this.#rebuild().finally(() => {
      this.#inFlight = undefined
    })
    return this.#inFlight
  }

  /** Records a `/status` probe result for `/nodes` (enclave mode, §7.2). */
  recordProbe(wallet: Wallet, probe: StatusProbe): void {
    const peer = this.find(wallet)
    if (peer !== undefined) peer.probe = probe
  }

  async #rebuild(): Promise<readonly Peer[]> {
    const { registry, kmsAppId, clock } = this.#options
    const wallets = await registry.getActiveInstances(kmsAppId)
    const candidates = await Promise.all(wallets.map((wallet) => this.#eligiblePeer(wallet)))
    const previous = new Map(this.#peers.map((peer) => [peer.wallet, peer.probe]))
    const peers: Peer[] = []
    for (const peer of candidates) {
      if (peer === undefined || peers.some((kept) => kept.wallet === peer.wallet)) continue
      peers.push({ ...peer, probe: previous.get(peer.wallet) })
    }
    this.#peers = peers
    this.#refreshedAtMs = clock.nowMs()
    return peers
  }

  /** §7.2 step 3; an instance whose reads fail is skipped, the refresh itself fails only on step 1. */
  async #eligiblePeer(wallet: Wallet): Promise<Peer | undefined> {
    const { registry, kmsAppId, mode } = this.#options
    const instance = await registry.getInstanceByWallet(wallet)
    if (instance === undefined || instance.status !== 0 || !instance.zkVerified || instance.appId !== kmsAppId) return undefined
    const version = await registry.getVersion(instance.appId, instance.versionId).catch(() => undefined)
    if (version === undefined || (version.status !== 0 && version.status !== 1)) return undefined
    const teePubkey = parseP384PublicKey(instance.teePubkey)
    if (teePubkey === undefined || !isUsableUrl(instance.instanceUrl, mode)) return undefined
    return {
      wallet,
      url: instance.instanceUrl,
      teePubkeyDer: teePubkey.der,
      instance,
      version: { status: version.status, codeMeasurement: version.codeMeasurement },
      probe: undefined,
    }
  }
}
