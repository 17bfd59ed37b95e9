/**
 * The node's audit log (PROTOCOL §14): one hash chain per (boot, app) and one for cluster
 * events, in memory, bounded per chain, in total and in chains (§14.3). There is no
 * node-wide sequence: each chain counts only its own entries, so no app can read another's
 * traffic from its gaps.
 *
 * @module
 */
import { bytesToHex } from '../encoding'
import type { Clock, Random } from '../runtime'
import { AUDIT_GENESIS_HASH, computeAuditEntryHash } from './entryHash'
import { CLUSTER_CHAIN, type AuditChainId, type AuditEntry, type AuditHead, type AuditOp, type AuditPage } from './types'

/** §14.3: a chain past this drops its oldest entry. */
export const MAX_AUDIT_ENTRIES_PER_CHAIN = 1024
/** §14.3: entries retained over all chains; past it the fullest chain drops its oldest. */
export const MAX_AUDIT_ENTRIES_TOTAL = 16384
/** §14.3: chains kept; past it the chain appended to least recently is forgotten. */
export const MAX_AUDIT_CHAINS = 4096
/** §14.4: entries per page. */
export const MAX_AUDIT_PAGE_ENTRIES = 256

interface StoredEntry {
  entry: AuditEntry
  hash: string
}

interface Chain {
  seq: number
  hash: string
  dropped: number
  /** The hash just before `entries[0]`: the genesis, or the last dropped entry's. */
  baseHash: string
  entries: StoredEntry[]
}

/** What `page` returns before the node signs the head (§14.4). */
export type UnsignedAuditPage = Omit<AuditPage, 'head_signature'>

/** `since` beyond the chain's head (§14.4: 400). */
export class AuditSinceAheadError extends Error {
  constructor(readonly headSeq: number) {
    super(`'since' is ahead of the head ${headSeq}`)
    this.name = 'AuditSinceAheadError'
  }
}

export interface AuditLogLimits {
  maxEntriesPerChain: number
  maxEntriesTotal: number
  maxChains: number
}

export class AuditLog {
  /** 16 random bytes per process start (§14.1): a restarted node starts new chains. */
  readonly boot: string
  readonly #clock: Clock
  readonly #random: Random
  readonly #limits: AuditLogLimits
  /** In order of last append, least recent first (a Map keeps insertion order). */
  readonly #chains = new Map<AuditChainId, Chain>()
  #retained = 0
  #appendedTotal = 0
  #droppedTotal = 0

  constructor(options: { clock: Clock; random: Random; limits?: Partial<AuditLogLimits> }) {
    this.#clock = options.clock
    this.#random = options.random
    this.#limits = {
      maxEntriesPerChain: options.limits?.maxEntriesPerChain ?? MAX_AUDIT_ENTRIES_PER_CHAIN,
      maxEntriesTotal: options.limits?.maxEntriesTotal ?? MAX_AUDIT_ENTRIES_TOTAL,
      maxChains: options.limits?.maxChains ?? MAX_AUDIT_CHAINS,
    }
    this.boot = bytesToHex(options.random.bytes(16))
  }

  /** A fresh node-made request id (§14.2); the caller's `X-Request-Id` is not authenticated. */
  newRequestId(): string {
    return bytesToHex(this.#random.bytes(16))
  }

  /** Appends one entry to `chainId`'s chain and returns it with its hash. */
  append(chainId: AuditChainId, requestId: string, op: AuditOp): AuditEntry & { hash: string } {
    let chain = this.#chains.get(chainId)
    if (chain === undefined) {
      chain = { seq: 0, hash: AUDIT_GENESIS_HASH, dropped: 0, baseHash: AUDIT_GENESIS_HASH, entries: [] }
    } else {
      this.#chains.delete(chainId) // re-inserted below: now the most recently appended
    }
    this.#chains.set(chainId, chain)
    const entry = { ...op, seq: chain.seq + 1, boot: this.boot, app_id: chainId, request_id: requestId, at_ms: this.#clock.nowMs() } as AuditEntry
    const hash = computeAuditEntryHash(chain.hash, entry)
    chain.entries.push({ entry, hash })
    chain.seq = entry.seq
    chain.hash = hash
    this.#retained++
    this.#appendedTotal++
    if (chain.entries.length > this.#limits.maxEntriesPerChain) this.#dropOldest(chain)
    while (this.#retained > this.#limits.maxEntriesTotal) this.#dropOldest(this.#fullestChain())
    while (this.#chains.size > this.#limits.maxChains) this.#forgetLeastRecent()
    return { ...entry, hash }
  }

  /** The head of `chainId`'s chain; an app with no entries has the empty chain (§14.4). */
  head(chainId: AuditChainId): AuditHead {
    const chain = this.#chains.get(chainId)
    return chain === undefined ? { seq: 0, hash: AUDIT_GENESIS_HASH, dropped: 0 } : { seq: chain.seq, hash: chain.hash, dropped: chain.dropped }
  }

  /**
   * The entries after `since` (§14.4), at most `MAX_AUDIT_PAGE_ENTRIES`.
   * @throws AuditSinceAheadError when `since` is beyond the head.
   */
  page(chainId: AuditChainId, since: number): UnsignedAuditPage {
    const chain = this.#chains.get(chainId)
    const head = this.head(chainId)
    if (since > head.seq) throw new AuditSinceAheadError(head.seq)
    const entries = chain?.entries ?? []
    const start = Math.max(since, head.dropped) - head.dropped
    const end = Math.min(entries.length, start + MAX_AUDIT_PAGE_ENTRIES)
    const prevHash = start === 0 ? (chain?.baseHash ?? AUDIT_GENESIS_HASH) : entries[start - 1]!.hash
    return {
      app_id: chainId,
      boot: this.boot,
      since,
      prev_hash: prevHash,
      entries: entries.slice(start, end).map(({ entry, hash }) => ({ ...entry, hash })),
      head,
      more: end < entries.length,
    }
  }

  /** Cumulative counters for `/metrics` (§14.6). */
  stats(): { entries: number; dropped: number; retained: number; chains: number } {
    return { entries: this.#appendedTotal, dropped: this.#droppedTotal, retained: this.#retained, chains: this.#chains.size }
  }

  #dropOldest(chain: Chain): void {
    const oldest = chain.entries.shift()
    if (oldest === undefined) return
    chain.baseHash = oldest.hash
    chain.dropped++
    this.#retained--
    this.#droppedTotal++
  }

  /** The chain holding the most entries; ties go to the one appended to least recently. */
  #fullestChain(): Chain {
    let fullest: Chain | undefined
    for (const chain of this.#chains.values()) {
      if (fullest === undefined || chain.entries.length > fullest.entries.length) fullest = chain
    }
    return fullest!
  }

  /** Forgets the least recently appended chain whole; the cluster chain is never forgotten. */
  #forgetLeastRecent(): void {
    for (const [chainId, chain] of this.#chains) {
      if (chainId === CLUSTER_CHAIN) continue
      this.#chains.delete(chainId)
      this.#retained -= chain.entries.length
      this.#droppedTotal += chain.entries.length
      return
    }
  }
}
