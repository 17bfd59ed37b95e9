/**
 * When ticks are due (PROTOCOL §7.1, §7.4): node_tick at start and then every
 * `KMS_NODE_TICK_SECONDS`; sync_tick every `DATA_SYNC_INTERVAL_SECONDS`, first one interval
 * after start. Runs of the same tick never overlap.
 */
import type { Clock } from '../runtime'

export type TickName = 'node_tick' | 'sync_tick'

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

  isDue(tick: TickName): boolean {
    const last = this.#lastRunMs[tick]
    return last === undefined || this.#clock.nowMs() - last >= this.#intervalsMs[tick]
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
