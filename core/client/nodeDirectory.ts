/**
 * The runtime client's view of the KMS nodes (RUNTIME.md §1 "Discovery" and "Identity
 * binding"): the discovered list, whether each node answered its `GET /status` probe, and
 * whether that answer named the registry identity, each cached with the runtime's TTLs.
 */
import { bytesToHex } from '../encoding'
import type { Clock } from '../runtime'
import { createTimedFetch, type FetchFunction } from './_timedFetch'
import { TtlCache } from './_ttlCache'
import { checkNodeIdentity, type NodeIdentityCheck } from './checkNodeIdentity'
import type { DiscoveredKmsNode } from './discoverKmsNodes'
import { KmsNodeExchangeError } from './runtimeErrors'

/** RUNTIME.md §1 "Caches". */
export const NODE_LIST_TTL_MS = 60_000
export const REACHABLE_TTL_MS = 30_000
export const UNREACHABLE_TTL_MS = 10_000
export const IDENTITY_TTL_MS = 30_000
/** How often the runtime refreshes in the background; the caller owns the timer. */
export const BACKGROUND_REFRESH_MS = 20_000
/** The runtime's per-request timeout, which its probes share. */
export const NODE_REQUEST_TIMEOUT_MS = 10_000

export interface NodeDirectoryOptions {
  /** Reads the registry; typically `discoverKmsNodes` bound to a reader. */
  discover: () => Promise<DiscoveredKmsNode[]>
  clock: Clock
  fetch?: FetchFunction
  /** Per probe; defaults to {@link NODE_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number
  /**
   * How a reachable node proves it is the registry's: by default its `/status` names the
   * registry identity, as the runtime checks (RUNTIME.md §1); the SDK passes
   * `verifyNodeAttestation`, which trusts no claim of the host's. `fetch` is the directory's,
   * bounded in time and bytes. `'unreachable'`: no usable answer.
   */
  checkIdentity?: (node: DiscoveredKmsNode, fetch: FetchFunction) => Promise<NodeIdentityCheck | 'unreachable'>
}

const UNREACHABLE: unique symbol = Symbol('unreachable')

interface Probe {
  reachable: boolean
  /** Set only for a reachable node: did its `/status` name the registry identity? */
  identityMatches: boolean
}

/** Keyed by the whole identity, so a URL re-registered under a new wallet is probed afresh. */
function nodeKey(node: DiscoveredKmsNode): string {
  return `${node.url}|${node.wallet}|${bytesToHex(node.teePubkeyDer)}`
}

export class NodeDirectory {
  readonly #discover: () => Promise<DiscoveredKmsNode[]>
  readonly #fetch: FetchFunction
  readonly #list: TtlCache<'nodes', DiscoveredKmsNode[]>
  readonly #reachability: TtlCache<string, boolean>
  readonly #identity: TtlCache<string, boolean>
  readonly #probing = new Map<string, Promise<Probe>>()
  readonly #checkIdentity: (node: DiscoveredKmsNode, fetch: FetchFunction) => Promise<NodeIdentityCheck | 'unreachable'>

  constructor({ discover, clock, fetch, timeoutMs = NODE_REQUEST_TIMEOUT_MS, checkIdentity }: NodeDirectoryOptions) {
    this.#discover = discover
    this.#checkIdentity = checkIdentity ?? ((node) => this.#checkStatusIdentity(node))
    this.#fetch = createTimedFetch(fetch ?? ((input, init) => globalThis.fetch(input, init)), timeoutMs)
    this.#list = new TtlCache(clock)
    this.#reachability = new TtlCache(clock)
    this.#identity = new TtlCache(clock)
  }

  /**
   * The discovered nodes, sorted by URL, cached 60 s (failures are not cached).
   * @throws KmsRegistryUnavailableError from discovery.
   */
  async nodes(): Promise<DiscoveredKmsNode[]> {
    const cached = this.#list.get('nodes')
    if (cached !== undefined) return cached
    const nodes = await this.#discover()
    this.#list.set('nodes', nodes, NODE_LIST_TTL_MS)
    return nodes
  }

  /**
   * The nodes to try, in URL order: those that answered their probe and named the registry
   * identity. If no node answered at all, every discovered node (RUNTIME.md §1: "If every
   * probe fails, it still tries all discovered nodes"); a node that answered with another
   * identity is never tried.
   */
  async candidates(): Promise<DiscoveredKmsNode[]> {
    const nodes = await this.nodes()
    const probes = await Promise.all(nodes.map((node) => this.#probe(node)))
    if (!probes.some((probe) => probe.reachable)) return nodes
    return nodes.filter((_, index) => probes[index]!.reachable && probes[index]!.identityMatches)
  }

  /** The nodes that answered their probe and proved the registry identity, without the all-unreachable fallback of {@link candidates}. */
  async verifiedNodes(): Promise<DiscoveredKmsNode[]> {
    const nodes = await this.nodes()
    const probes = await Promise.all(nodes.map((node) => this.#probe(node)))
    return nodes.filter((_, index) => probes[index]!.reachable && probes[index]!.identityMatches)
  }

  /** A missing or bad response signature: check this node's `/status` again before trusting it. */
  invalidateIdentity(node: DiscoveredKmsNode): void {
    this.#identity.delete(nodeKey(node))
  }

  /** A request to this node failed in transport: treat it as unreachable for 10 s. */
  markUnreachable(node: DiscoveredKmsNode): void {
    const key = nodeKey(node)
    this.#reachability.set(key, false, UNREACHABLE_TTL_MS)
    this.#identity.delete(key)
  }

  /**
   * The background refresh (RUNTIME.md §1: every 20 s): re-reads the registry and probes
   * every node, replacing the cached results.
   * @throws KmsRegistryUnavailableError from discovery; the cached list is then kept.
   */
  async refresh(): Promise<void> {
    const nodes = await this.#discover()
    this.#list.set('nodes', nodes, NODE_LIST_TTL_MS)
    await Promise.all(nodes.map((node) => this.#probe(node, true)))
  }

  async #probe(node: DiscoveredKmsNode, force = false): Promise<Probe> {
    const key = nodeKey(node)
    const reachable = this.#reachability.get(key)
    if (!force && reachable === false) return { reachable: false, identityMatches: false }
    const identity = this.#identity.get(key)
    if (!force && reachable === true && identity !== undefined) return { reachable: true, identityMatches: identity }
    const inFlight = this.#probing.get(key)
    if (inFlight !== undefined) return inFlight
    const probe = this.#readStatus(node).finally(() => this.#probing.delete(key))
    this.#probing.set(key, probe)
    return probe
  }

  async #readStatus(node: DiscoveredKmsNode): Promise<Probe> {
    const key = nodeKey(node)
    let check: NodeIdentityCheck | 'unreachable'
    try {
      check = await this.#checkIdentity(node, this.#fetch)
    } catch (error) {
      if (!(error instanceof KmsNodeExchangeError)) throw error
      check = 'unreachable'
    }
    if (check === 'unreachable') {
      this.#reachability.set(key, false, UNREACHABLE_TTL_MS)
      this.#identity.delete(key)
      return { reachable: false, identityMatches: false }
    }
    const identityMatches = check.matches
    this.#reachability.set(key, true, REACHABLE_TTL_MS)
    this.#identity.set(key, identityMatches, IDENTITY_TTL_MS)
    return { reachable: true, identityMatches }
  }

  /** The runtime's check (RUNTIME.md §1 "Identity binding"): `/status` names the registry identity. */
  async #checkStatusIdentity(node: DiscoveredKmsNode): Promise<NodeIdentityCheck | 'unreachable'> {
    const status = await this.#fetchStatus(node)
    return status === UNREACHABLE ? 'unreachable' : checkNodeIdentity(status, node)
  }

  /** The `/status` body, or {@link UNREACHABLE} for a connection error, a timeout, a non-2xx or non-JSON answer. */
  async #fetchStatus(node: DiscoveredKmsNode): Promise<unknown> {
    let response: Response
    try {
      response = await this.#fetch(`${node.url.replace(/\/+$/, '')}/status`)
    } catch (error) {
      if (error instanceof KmsNodeExchangeError) return UNREACHABLE
      throw error
    }
    if (!response.ok) return UNREACHABLE
    try {
      return JSON.parse(await response.text()) as unknown
    } catch (error) {
      if (error instanceof SyntaxError) return UNREACHABLE
      throw error
    }
  }
}
