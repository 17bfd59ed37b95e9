/**
 * 2. Derive latency at a fixed offered load, open loop: requests leave on a fixed schedule
 * whether or not earlier ones have finished, and latency counts from the scheduled instant,
 * so a stall shows up in the tail instead of silently lowering the load (no coordinated
 * omission). Each request is a whole SDK derive: /nonce round trip included.
 */
import { log, median, percentile, processCpuMs, round, sleep } from './_harness'
import { emptyRoundTrips, type BenchApp } from './_load'
import type { BenchNode } from './_nodes'

export const OFFERED_PER_SECOND = 50
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
  /** Where the median request's time went: the /nonce exchange and the derive exchange. */
  nonce_round_trip_p50_ms: number
  call_round_trip_p50_ms: number
  rounds: LatencyRound[]
}

export async function measureLatency(node: BenchNode, app: BenchApp, capacityPerSecond: number): Promise<LatencyResult> {
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
  const intervalMs = 1000 / OFFERED_PER_SECOND
  for (let index = 0; index < ROUNDS; index++) {
    const samples: number[] = []
    const inFlight: Promise<void>[] = []
    const cpuBefore = processCpuMs(node.pid)
    const started = performance.now()
    for (let sequence = 0; sequence < OFFERED_PER_SECOND * ROUND_SECONDS; sequence++) {
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
    offered_per_second: OFFERED_PER_SECOND,
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
    offered_share_of_capacity: round(OFFERED_PER_SECOND / capacityPerSecond, 2),
    nonce_round_trip_p50_ms: round(percentile(trips.current.nonce, 50), 2),
    call_round_trip_p50_ms: round(percentile(trips.current.call, 50), 2),
    rounds,
  }
}
