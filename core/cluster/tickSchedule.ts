/**
 * When ticks are due (PROTOCOL §7.1, §7.4): node_tick at start and then every
 * `KMS_NODE_TICK_SECONDS`, or every {@link UNAVAILABLE_RETRY_SECONDS} while the node is not
 * available; sync_tick every `DATA_SYNC_INTERVAL_SECONDS`, first one interval after start.
 * Runs of the same tick never overlap.
 */
import type { Clock } from '../runtime'

export type TickName = 'node_tick' | 'sync_tick'

/**
 * How soon an unavailable node runs node_tick again, when that is sooner than its interval
 * (PROTOCOL §7.1, addition 2026-12). Only node_tick can make a node available: a node
 * registered a few seconds after it booted, or whose chain RPC came back, would otherwise
 * refuse every request for up to KMS_NODE_TICK_SECONDS (60 s by default). The cost is
 * bounded: one tick's reads per 5 s, and only while unavailable.
 */
export const UNAVAILABLE_RETRY_SECONDS = 5

export class TickSchedule {
  readonly #clock: Clock
  readonly #intervalsMs: Record<TickName, number>
  readonly #lastRunMs: Record<TickName, number | undefined>
  readonly #running = new Map<TickName, Promise<void>>()

  constructor(clock: Clock, intervals: { nodeTickSeconds: number; dataSyncIntervalSeconds: number }) {
    this.#clock = clock
    this.#intervalsMs = { node_tick: intervals.nodeTickSeconds * 1000, sync_tick: intervals.dataSyncIntervalSeconds * 1000 }
    // sync_tick counts its first interval from start.
    this.#lastRunMs = { node_tick: undefined, sync_tick: clock.nowMs() }
  }

  /** `available`: whether the node serves now; an unavailable node retries node_tick sooner. */
  isDue(tick: TickName, available = true): boolean {
    const last = this.#lastRunMs[tick]
    if (last === undefined) return true
    const interval = tick === 'node_tick' && !available ? Math.min(this.#intervalsMs[tick], UNAVAILABLE_RETRY_SECONDS * 1000) : this.#intervalsMs[tick]
    const elapsed = this.#clock.nowMs() - last
    // A clock the host moved back makes the last run look like the future: due at once (the
    // run then restarts the count from the new time), or ticks would stop until it caught up.
    return elapsed < 0 || elapsed >= interval
  }

  isRunning(tick: TickName): boolean {
    return this.#running.has(tick)
  }

  /** Runs `body` as `tick` unless a run is in progress, in which case it joins that run. */
  run(tick: TickName, body: () => Promise<void>): Promise<void> {
    const running = this.#running.get(tick)
    if (running !== undefined) return running
    this.#lastRunMs[tick] = this.#clock.nowMs()
    const run = body().finally(() => {
      this.#running.delete(tick)
    })
    this.#running.set(tick, run)
    return run
  }
}
