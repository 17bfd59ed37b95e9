/**
 * 2. Derive latency at a fixed offered load, open loop: requests leave on a fixed schedule
 * whether or not earlier ones have finished, and latency counts from the scheduled instant,
 * so a stall shows up in the tail instead of silently lowering the load (no coordinated
 * omission). Each request is a whole SDK derive: /nonce round trip included. The load comes
 * from GENERATORS processes of its own (bench/_latencyClient.ts) on one interleaved
 * schedule, at OFFERED_SHARE_OF_CAPACITY of the closed-loop capacity measured just before.
 */
import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import { availableParallelism } from 'node:os'
import { forEachLine } from '../bundle/processes'
import { importP384PrivateKey } from '../core/crypto'
import { bytesToHex } from '../core/encoding'
import type { DevChain } from '../test/helpers/devChain'
import { cryptoRandom, registerTestApp } from '../test/helpers/kmsNodes'
import { log, median, percentile, processCpuMs, round, sleep, threadCpuMs } from './_harness'
import type { LatencyClientJob } from './_latencyClient'
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
/**
 * Load generators, each its own process (bench/_latencyClient.ts): a client's crypto costs
 * about what the node's does, so one event loop sending 70% of the node's capacity would be
 * half busy itself and add its own queueing to the tail being measured.
 */
const GENERATORS = 2
/** Between telling the ready generators when to start and the start. */
const START_AHEAD_MS = 300
/** A generator that runs longer than this is killed (a round is 6 s). */
const GENERATOR_TIMEOUT_MS = 120_000

/** An app whose P-384 scalar is known, so that generator processes can act as it. */
async function latencyApp(chain: DevChain): Promise<{ walletKey: Uint8Array; teeScalar: Uint8Array }> {
  const teeScalar = cryptoRandom.bytes(48) // below n but with probability 2^-190
  const teeKey = await importP384PrivateKey(teeScalar)
  const app = await registerTestApp(chain, { teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}` })
  return { walletKey: app.walletKey, teeScalar }
}

interface Generator {
  /** Resolves once the process has booted and warmed up. */
  ready: Promise<void>
  start(atEpochMs: number): void
  result: Promise<GeneratorResult>
}

/** What a generator prints at the end (bench/_latencyClient.ts). */
interface GeneratorResult {
  samples: number[]
  errors: number
  loop_delay_p99_ms: number
  loop_delay_max_ms: number
}

/** Spawns one generator; it prints `ready`, reads its start time on stdin, then prints its result. */
function startGenerator(job: LatencyClientJob, cpus?: string): Generator {
  const command = [process.execPath, '--import', 'tsx', 'bench/_latencyClient.ts', JSON.stringify(job)]
  const pinned = cpus === undefined ? command : ['taskset', '-c', cpus, ...command]
  const child = spawn(pinned[0]!, pinned.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] })
  const killer = setTimeout(() => child.kill('SIGKILL'), GENERATOR_TIMEOUT_MS)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)))
  const lines: string[] = []
  let onLine = (): void => undefined
  forEachLine(child.stdout, (line) => {
    lines.push(line)
    onLine()
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const failure = (what: string): Error => new Error(`latency generator ${job.index}: ${what} ${stderr}`)
  const ready = new Promise<void>((resolve, reject) => {
    onLine = () => void (lines.includes('ready') && resolve())
    void exited.then((code) => reject(failure(`exited with ${code} before it was ready`)))
  })
  const result = exited.then((code) => {
    clearTimeout(killer)
    const last = lines.at(-1)
    if (code !== 0 || last === undefined || last === 'ready') throw failure(`exited with ${code}`)
    return JSON.parse(last) as GeneratorResult
  })
  ready.catch(() => undefined) // reported through `result` too
  return { ready, result, start: (atEpochMs) => child.stdin.end(`${atEpochMs}\n`) }
}

export interface LatencyRound {
  p50_ms: number
  p99_ms: number
  max_ms: number
  /** Node CPU busy fraction of one core during the round (every thread, the secp256k1 workers too). */
  node_cpu_utilisation: number
  /** The node's main (JavaScript) thread alone: what the requests queue on. */
  node_main_thread_utilisation: number
  /**
   * The node's own event loop and GC during the round (bench/loopProbe.mjs), when the node
   * runs with it: a tail the node's loop does not show was made outside the node.
   */
  node_loop?: NodeLoopReading
  /** The worst generator's own loop delay (5 ms resolution): lateness made in the client. */
  generator_loop_delay_p99_ms: number
  generator_loop_delay_max_ms: number
}

/** bench/loopProbe.mjs's answer to 'loop-read'. */
export interface NodeLoopReading {
  resolution_ms: number
  loop_delay_p50_ms: number
  loop_delay_p99_ms: number
  loop_delay_max_ms: number
  gc_ms: number
  gc_max_pause_ms: number
  gc_count: number
}

/** The node's arguments that load the loop probe; startNode needs `ipc: true` with them. */
export const LOOP_PROBE_NODE_ARGS = ['--import', new URL('./loopProbe.mjs', import.meta.url).href]

/** Asks the node's loop probe, if it has one (an IPC channel), to reset or to read. */
async function askLoopProbe(node: BenchNode, message: 'loop-reset' | 'loop-read'): Promise<NodeLoopReading | undefined> {
  if (!node.child.connected) return undefined
  const answer = once(node.child, 'message', { signal: AbortSignal.timeout(10_000) })
  node.child.send(message)
  const [reading] = (await answer) as [NodeLoopReading & { reset?: true }]
  return reading.reset === true ? undefined : reading
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
  /** …and its own tail, with nothing queued: the jitter of this machine and this client. */
  unloaded_p99_ms: number
  /** Offered load ÷ the closed-loop derive capacity measured just before. */
  offered_share_of_capacity: number
  /** The tail against the median, over all samples: issue 14's goal is ≤ 2. */
  p99_over_p50: number
  /** Where the unloaded median request's time went: the /nonce exchange and the derive exchange. */
  nonce_round_trip_p50_ms: number
  call_round_trip_p50_ms: number
  /** Load-generator processes the offered load is split over. */
  generators: number
  /**
   * Over the shared rounds: the longest the node's own loop stalled, its longest GC pause, and
   * the generators' worst loop delay. A p99 far above the node's stall was made outside it.
   */
  node_loop_delay_max_ms: number | null
  node_gc_max_pause_ms: number | null
  generator_loop_delay_max_ms: number
  rounds: LatencyRound[]
  isolated: IsolatedLatency | { error: string }
}

export async function measureLatency(chain: DevChain, node: BenchNode, app: BenchApp, capacityPerSecond: number, share = OFFERED_SHARE_OF_CAPACITY): Promise<LatencyResult> {
  if (!(capacityPerSecond > 0)) throw new Error(`latency: no derive capacity to take a share of (${capacityPerSecond})`)
  const offeredPerSecond = round(capacityPerSecond * share, 1)
  const trips = { current: emptyRoundTrips() }
  const client = await app.client(node, () => trips.current)
  // Sequential derives: a warm-up, then the unloaded service time.
  const unloaded: number[] = []
  for (let index = 0; index < 210; index++) {
    const started = performance.now()
    await client.derive({ path: 'bench/latency' })
    if (index >= 10) unloaded.push(performance.now() - started)
    if (index === 9) trips.current = emptyRoundTrips() // the warm-up's trips are not counted
  }
  const unloadedTrips = trips.current
  const generatorApp = await latencyApp(chain)
  const { node: self } = await node.status()

  const jobsFor = (): LatencyClientJob[] =>
    Array.from({ length: GENERATORS }, (_, generator) => ({
      url: node.url,
      nodeWallet: self.tee_wallet,
      nodeTeePubkeyHex: self.tee_pubkey,
      walletKeyHex: bytesToHex(generatorApp.walletKey),
      teeScalarHex: bytesToHex(generatorApp.teeScalar),
      intervalMs: 1000 / offeredPerSecond,
      index: generator,
      generators: GENERATORS,
      requests: Math.ceil((Math.round(offeredPerSecond * ROUND_SECONDS) - generator) / GENERATORS),
    }))
  const shared = await runRounds(node, jobsFor, 'latency')
  const isolated = await attemptIsolated(node, jobsFor)
  const { all, rounds, errors } = shared
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
    unloaded_p99_ms: round(percentile(unloaded, 99), 2),
    offered_share_of_capacity: round(offeredPerSecond / capacityPerSecond, 2),
    p99_over_p50: round(percentile(all, 99) / percentile(all, 50), 2),
    nonce_round_trip_p50_ms: round(percentile(unloadedTrips.nonce, 50), 2),
    call_round_trip_p50_ms: round(percentile(unloadedTrips.call, 50), 2),
    generators: GENERATORS,
    node_loop_delay_max_ms: worstOf(rounds, (r) => r.node_loop?.loop_delay_max_ms),
    node_gc_max_pause_ms: worstOf(rounds, (r) => r.node_loop?.gc_max_pause_ms),
    generator_loop_delay_max_ms: Math.max(...rounds.map((r) => r.generator_loop_delay_max_ms)),
    rounds,
    isolated,
  }
}

/** The largest of a figure over the rounds, or null when no round has it. */
function worstOf(rounds: readonly LatencyRound[], figure: (round: LatencyRound) => number | undefined): number | null {
  const values = rounds.map(figure).filter((value): value is number => value !== undefined)
  return values.length === 0 ? null : Math.max(...values)
}

interface RoundsOutcome {
  all: number[]
  rounds: LatencyRound[]
  errors: number
}

/**
 * ROUNDS rounds of open-loop load: the generators boot and warm up, say so, and are then given
 * one wall-clock start just ahead; each takes every GENERATORS-th slot of one fixed schedule.
 * `generatorCpus` (a taskset list) pins the generator processes.
 */
async function runRounds(node: BenchNode, jobsFor: () => LatencyClientJob[], label: string, generatorCpus?: string): Promise<RoundsOutcome> {
  const all: number[] = []
  const rounds: LatencyRound[] = []
  let errors = 0
  for (let index = 0; index < ROUNDS; index++) {
    const generators = jobsFor().map((job) => startGenerator(job, generatorCpus))
    await Promise.all(generators.map((generator) => generator.ready))
    const startAtEpochMs = Date.now() + START_AHEAD_MS
    for (const generator of generators) generator.start(startAtEpochMs)
    await askLoopProbe(node, 'loop-reset')
    await sleep(Math.max(0, startAtEpochMs - Date.now()))
    const cpuBefore = processCpuMs(node.pid)
    const mainBefore = threadCpuMs(node.pid)
    const started = performance.now()
    const results = await Promise.all(generators.map((generator) => generator.result))
    const elapsed = performance.now() - started
    const cpuAfter = processCpuMs(node.pid)
    const mainAfter = threadCpuMs(node.pid)
    const nodeLoop = await askLoopProbe(node, 'loop-read')
    const samples = results.flatMap((result) => result.samples)
    errors += results.reduce((sum, result) => sum + result.errors, 0)
    rounds.push({
      p50_ms: round(percentile(samples, 50), 2),
      p99_ms: round(percentile(samples, 99), 2),
      max_ms: round(Math.max(...samples), 2),
      node_cpu_utilisation: round((cpuAfter - cpuBefore) / elapsed, 3),
      node_main_thread_utilisation: round((mainAfter - mainBefore) / elapsed, 3),
      ...(nodeLoop === undefined ? {} : { node_loop: nodeLoop }),
      generator_loop_delay_p99_ms: Math.max(...results.map((result) => result.loop_delay_p99_ms)),
      generator_loop_delay_max_ms: Math.max(...results.map((result) => result.loop_delay_max_ms)),
    })
    all.push(...samples)
    const last = rounds.at(-1)!
    const loops = `node loop p99 ${last.node_loop?.loop_delay_p99_ms ?? '?'} / max ${last.node_loop?.loop_delay_max_ms ?? '?'} ms, gc max ${last.node_loop?.gc_max_pause_ms ?? '?'} ms; generators' loop p99 ${last.generator_loop_delay_p99_ms} ms`
    log(`${label} round ${index + 1}: p50 ${last.p50_ms} ms, p99 ${last.p99_ms} ms (${loops})`)
  }
  return { all, rounds, errors }
}

/** The same load with the node alone on one core and the generators on the other. */
export interface IsolatedLatency {
  node_cpus: string
  generator_cpus: string
  p50_ms: number
  p99_ms: number
  max_ms: number
  p99_over_p50: number
  errors: number
  rounds: LatencyRound[]
}

/**
 * On this 2-core machine the generators' own crypto (about the node's per request) competes
 * with the node for the same cores, so part of the shared run's tail is the node waiting for
 * a core a generator holds: the client's machine, not the node. Pinning the node (every
 * thread, libuv's pool included) to one core and the generators to the other separates the
 * two, as a real deployment does (apps run in other enclaves). Both runs are reported.
 */
async function attemptIsolated(node: BenchNode, jobsFor: () => LatencyClientJob[]): Promise<IsolatedLatency | { error: string }> {
  if (availableParallelism() < 2) return { error: 'needs 2 cores' }
  const [nodeCpus, generatorCpus] = ['0', '1']
  try {
    execFileSync('taskset', ['-a', '-p', '-c', nodeCpus, String(node.pid)], { stdio: 'ignore' })
  } catch (error) {
    return { error: `taskset failed: ${error instanceof Error ? error.message : String(error)}` }
  }
  try {
    const { all, rounds, errors } = await runRounds(node, jobsFor, 'latency (node on its own core)', generatorCpus)
    return {
      node_cpus: nodeCpus,
      generator_cpus: generatorCpus,
      p50_ms: round(percentile(all, 50), 2),
      p99_ms: round(percentile(all, 99), 2),
      max_ms: round(Math.max(...all), 2),
      p99_over_p50: round(percentile(all, 99) / percentile(all, 50), 2),
      errors,
      rounds,
    }
  } finally {
    execFileSync('taskset', ['-a', '-p', '-c', `0-${availableParallelism() - 1}`, String(node.pid)], { stdio: 'ignore' })
  }
}
