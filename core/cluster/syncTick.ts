/**
 * `sync_tick` (PROTOCOL §7.4, §6.8): push every record changed since the last push to every
 * cached peer. Peers are pushed to in parallel, each bounded by its own timeouts, so one
 * failing peer never holds up the others.
 *
 * Watermarks are kept per peer (§6.8 allows it): a peer's watermark moves only when a push
 * to it succeeds, so a peer that was unreachable for several rounds gets everything it
 * missed once it is back, without a snapshot. A failed push is counted and not retried
 * within the tick; the next tick sends the same records again, which merge idempotently.
 */
import type { Wallet } from '../encoding'
import type { Clock } from '../runtime'
import { splitDelta, type KvStore } from '../store'
import type { Peer, PeerCache } from './peerCache'
import type { Readiness } from './readiness'
import type { SyncClient } from './syncClient'

/** `last_push_ms` (§6.8) per peer wallet; a peer not yet pushed to starts at 0 (everything). */
export class PeerWatermarks {
  readonly #lastPushMs = new Map<Wallet, number>()

  since(peer: Wallet): number {
    return Math.max((this.#lastPushMs.get(peer) ?? 0) - 1, 0)
  }

  advance(peer: Wallet, pushStartedMs: number): void {
    this.#lastPushMs.set(peer, pushStartedMs)
  }
}

export interface SyncTickContext {
  readiness: Pick<Readiness, 'available'>
  hasSyncKey: boolean
  peers: PeerCache
  store: Pick<KvStore, 'selectDelta'>
  client: Pick<SyncClient, 'pushDelta'>
  clock: Clock
  ownWallet: Wallet | undefined
  watermarks: PeerWatermarks
  maxSyncPayloadBytes: number
  recordPush(peer: Peer, result: 'ok' | 'failed'): void
  log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void
}

export interface SyncTickResult {
  /** Peers that took every record they were due. */
  pushed: number
  failed: number
  /** Records sent, summed over peers. */
  records: number
}

export async function runSyncTick(context: SyncTickContext): Promise<SyncTickResult> {
  const { readiness, peers, store, client, clock, watermarks } = context
  if (!readiness.available || !context.hasSyncKey) return { pushed: 0, failed: 0, records: 0 }
  if (peers.isStale()) {
    await peers.refresh().catch((error: unknown) => context.log('warn', 'peer cache refresh failed', { error: String(error) }))
    // Fail closed (§7.4): a cache the registry could not confirm may list a stopped peer, and
    // nothing goes to it. The watermarks stay, so the next push after a refresh sends it all.
    if (peers.isStale()) return { pushed: 0, failed: 0, records: 0 }
  }
  // §6.8 step 1: the push time is taken before selecting, so a write made during the push
  // is picked up next time (the −1 keeps a write in the same millisecond).
  const pushStartedMs = clock.nowMs()
  const targets = peers.peers.filter((peer) => peer.wallet !== context.ownWallet)
  let records = 0
  const outcomes = await Promise.allSettled(
    targets.map(async (peer) => {
      const delta = store.selectDelta(watermarks.since(peer.wallet))
      const count = Object.values(delta).reduce((total, group) => total + group.length, 0)
      if (count === 0) {
        watermarks.advance(peer.wallet, pushStartedMs)
        return
      }
      try {
        for (const body of splitDelta(delta, context.maxSyncPayloadBytes)) await client.pushDelta(peer, body)
        watermarks.advance(peer.wallet, pushStartedMs)
        records += count
        context.recordPush(peer, 'ok')
      } catch (error) {
        context.recordPush(peer, 'failed')
        context.log('warn', 'delta push failed', { peer: peer.url, error: String(error) })
        throw error
      }
    }),
  )
  const failed = outcomes.filter((outcome) => outcome.status === 'rejected').length
  return { pushed: targets.length - failed, failed, records }
}
