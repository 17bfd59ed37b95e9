/**
 * 2. Derive latency at a fixed offered load, open loop: requests leave on a fixed schedule
 * whether or not earlier ones have finished, and latency counts from the scheduled instant,
 * so a stall shows up in the tail instead of silently lowering the load (no coordinated
 * omission). Each request is a whole SDK derive: /nonce round trip included.
 */
import { log, median, percentile, processCpuMs, round, sleep } from './_harness'
import { emptyRoundTrips, type BenchApp } from './_load'
import type { BenchNode } from './_nodes'

/**
 * The offered load, as a share of the closed-loop derive capacity measured just before in the
 * same run (issue 14: "p99 ≤ 2× p50 at 70% of the measured capacity"). A fixed rate would be
 * a different share on every machine and every commit, so before/after could not compare.
 */
export const OFFERED_SHARE_OF_CAPACITY = 0.7
const ROUNDS = 3
const ROUND_SECONDS = 6

export interface LatencyRound {
  p50_ms: number
  p99_ms: number
  max_ms: number
  /** Node CPU busy fraction of one core during the round. */
  node_cpu_utilisation: number
}

export interface LatencyResult {
  offered_per_second: number
  duration_seconds: number
  requests: number
  errors: number
  /** Over all rounds' samples together. */
  p50_ms: number
  p90_ms: number
  p99_ms: number
  max_ms: number
  /** Medians of the per-round figures. */
  median_round_p50_ms: number
  median_round_p99_ms: number
  /** One request at a time (no queueing): the service time, for comparison. */
  unloaded_p50_ms: number
  /** Offered load ÷ the closed-loop derive capacity measured just before. */
  offered_share_of_capacity: number
  /** The tail against the median, over all samples: issue 14's goal is ≤ 2. */
  p99_over_p50: number
  /** Where the median request's time went: the /nonce exchange and the derive exchange. */
  nonce_round_trip_p50_ms: number
  call_round_trip_p50_ms: number
  rounds: LatencyRound[]
}

export async function measureLatency(node: BenchNode, app: BenchApp, capacityPerSecond: number, share = OFFERED_SHARE_OF_CAPACITY): Promise<LatencyResult> {
  if (!(capacityPerSecond > 0)) throw new Error(`latency: no derive capacity to take a share of (${capacityPerSecond})`)
  const offeredPerSecond = round(capacityPerSecond * share, 1)
  const trips = { current: emptyRoundTrips() }
  const client = await app.client(node, () => trips.current)
  // Sequential derives: a warm-up, then the unloaded service time.
  const unloaded: number[] = []
  for (let index = 0; index < 40; index++) {
    const started = performance.now()
    await client.derive({ path: 'bench/latency' })
    if (index >= 10) unloaded.push(performance.now() - started)
  }
  trips.current = emptyRoundTrips()

  const all: number[] = []
  const rounds: LatencyRound[] = []
  let errors = 0
  const intervalMs = 1000 / offeredPerSecond
  for (let index = 0; index < ROUNDS; index++) {
    const samples: number[] = []
    const inFlight: Promise<void>[] = []
    const cpuBefore = processCpuMs(node.pid)
    const started = performance.now()
    for (let sequence = 0; sequence < Math.round(offeredPerSecond * ROUND_SECONDS); sequence++) {
      const scheduled = started + sequence * intervalMs
      const wait = scheduled - performance.now()
      if (wait > 0) await sleep(wait)
      inFlight.push(
        client.derive({ path: 'bench/latency', context: String(sequence) }).then(
          () => void samples.push(performance.now() - scheduled),
          () => void errors++,
        ),
      )
    }
    await Promise.all(inFlight) // each request is bounded by the client's fetch timeouts
    const elapsed = performance.now() - started
    rounds.push({
      p50_ms: round(percentile(samples, 50), 2),
      p99_ms: round(percentile(samples, 99), 2),
      max_ms: round(Math.max(...samples), 2),
      node_cpu_utilisation: round((processCpuMs(node.pid) - cpuBefore) / elapsed, 3),
    })
    all.push(...samples)
    log(`latency round ${index + 1}: p50 ${rounds.at(-1)!.p50_ms} ms, p99 ${rounds.at(-1)!.p99_ms} ms`)
  }
  return {
    offered_per_second: offeredPerSecond,
    duration_seconds: ROUNDS * ROUND_SECONDS,
    requests: all.length + errors,
    errors,
    p50_ms: round(percentile(all, 50), 2),
    p90_ms: round(percentile(all, 90), 2),
    p99_ms: round(percentile(all, 99), 2),
    max_ms: round(Math.max(...all), 2),
    median_round_p50_ms: round(median(rounds.map((r) => r.p50_ms)), 2),
    median_round_p99_ms: round(median(rounds.map((r) => r.p99_ms)), 2),
    unloaded_p50_ms: round(percentile(unloaded, 50), 2),
    offered_share_of_capacity: round(offeredPerSecond / capacityPerSecond, 2),
    p99_over_p50: round(percentile(all, 99) / percentile(all, 50), 2),
    nonce_round_trip_p50_ms: round(percentile(trips.current.nonce, 50), 2),
    call_round_trip_p50_ms: round(percentile(trips.current.call, 50), 2),
    rounds,
  }
}
