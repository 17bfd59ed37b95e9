/**
 * `sync_tick` (PROTOCOL §7.4, §6.8): push to every cached peer what it may not have yet.
 * Peers are pushed to in parallel, each bounded by its own timeouts, so one failing peer never
 * holds up the others.
 *
 * What is due comes from `PeerWatermarks` (§6.8 "relay without echo"): a change journal with a
 * cursor per peer that moves only when a push to that peer succeeds, so a peer that was
 * unreachable for several rounds gets everything it missed once it is back, without a
 * snapshot. A record is never pushed back to where it came from, and a peer's own write is
 * relayed to a third peer only when its writer has not acknowledged, in time, that the third
 * peer took it. A failed push is counted and not retried within the tick.
 */
import type { Wallet } from '../encoding'
import type { Clock } from '../runtime'
import type { Peer, PeerCache } from './peerCache'
import type { JournalStore, PeerWatermarks } from './peerWatermarks'
import type { Readiness } from './readiness'
import type { SyncClient } from './syncClient'

export { PeerWatermarks, RELAY_DELAY_TICKS } from './peerWatermarks'

export interface SyncTickContext {
  readiness: Pick<Readiness, 'available'>
  hasSyncKey: boolean
  peers: PeerCache
  store: JournalStore
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
  // §6.8 step 1: the time is read before selecting, so a write made during the push is
  // picked up next time; every peer's plan is made in this one synchronous step.
  const nowMs = clock.nowMs()
  const targets = peers.peers.filter((peer) => peer.wallet !== context.ownWallet)
  const plans = watermarks.plan({
    store,
    peers: targets.map((peer) => peer.wallet),
    maxBodyBytes: context.maxSyncPayloadBytes,
    nowMs,
  })
  let records = 0
  const outcomes = await Promise.allSettled(
    targets.map(async (peer) => {
      const plan = plans.get(peer.wallet)!
      if (plan.bodies.length === 0) {
        plan.commit()
        return
      }
      try {
        for (const body of plan.bodies) plan.answered(body, await client.pushDelta(peer, body.data, body.fields))
        plan.commit()
        records += plan.records
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
