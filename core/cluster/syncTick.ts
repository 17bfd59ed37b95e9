/**
 * `sync_tick` (PROTOCOL §7.4, §6.8): push every record changed since the last push to every
 * cached peer. Peers are pushed to in parallel, each bounded by its own timeouts, so one
 * failing peer never holds up the others. Failures are counted and not retried: merge is
 * idempotent, and a node that misses deltas catches up from a snapshot when it (re)joins.
 */
import type { Wallet } from '../encoding'
import type { Clock } from '../runtime'
import { splitDelta, type KvStore } from '../store'
import type { Peer, PeerCache } from './peerCache'
import type { Readiness } from './readiness'
import type { SyncClient } from './syncClient'

export class DeltaWatermark {
  /** `last_push_ms` (§6.8), 0 at start. */
  lastPushMs = 0
}

export interface SyncTickContext {
  readiness: Pick<Readiness, 'available'>
  hasSyncKey: boolean
  peers: PeerCache
  store: Pick<KvStore, 'selectDelta'>
  client: Pick<SyncClient, 'pushDelta'>
  clock: Clock
  ownWallet: Wallet | undefined
  watermark: DeltaWatermark
  maxSyncPayloadBytes: number
  recordPush(peer: Peer, result: 'ok' | 'failed'): void
  log(level: 'info' | 'warn', message: string, fields?: Record<string, unknown>): void
}

export interface SyncTickResult {
  pushed: number
  failed: number
  records: number
}

export async function runSyncTick(context: SyncTickContext): Promise<SyncTickResult> {
  const { readiness, peers, store, client, clock, watermark } = context
  if (!readiness.available || !context.hasSyncKey) return { pushed: 0, failed: 0, records: 0 }
  if (peers.isStale()) {
    await peers.refresh().catch((error: unknown) => context.log('warn', 'peer cache refresh failed', { error: String(error) }))
  }
  // §6.8 step 1: the watermark moves before sending, so a write during the push is picked
  // up by the next tick (the −1 keeps a write in the same millisecond).
  const since = Math.max(watermark.lastPushMs - 1, 0)
  watermark.lastPushMs = clock.nowMs()
  const delta = store.selectDelta(since)
  const records = Object.values(delta).reduce((total, group) => total + group.length, 0)
  if (records === 0) return { pushed: 0, failed: 0, records: 0 }
  const bodies = splitDelta(delta, context.maxSyncPayloadBytes)
  const targets = peers.peers.filter((peer) => peer.wallet !== context.ownWallet)
  const outcomes = await Promise.allSettled(
    targets.map(async (peer) => {
      try {
        for (const body of bodies) await client.pushDelta(peer, body)
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
