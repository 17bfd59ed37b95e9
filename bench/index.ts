/**
 * `npm run bench` (DESIGN §6): runs every measurement once, in order, and prints ONE JSON
 * object on stdout; progress goes to stderr. Ratios are measured in the same run as the
 * absolute numbers printed next to them. One dev chain (anvil + the real contracts) serves
 * every measurement; each node is taken out of the registry and stopped when its measurement
 * ends, so nodes never sync with another measurement's nodes. Every process the bench starts
 * is stopped by PID at the end, on failure and on Ctrl-C too.
 *
 * A measurement that fails is reported as `{"error": …}`; the others still run, and the
 * exit status is then 1.
 *
 * `npm run bench -- --only derive,latency` runs only the named sections (the names are the
 * result's keys; `latency` and `latency_inline` need their derive section for the capacity,
 * so they take it along).
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { startDevChain, type DevChain } from '../test/helpers/devChain'
import { measureAttestation } from './attestation'
import { measureBundles } from './bundle'
import { measureColdStart } from './coldStart'
import { measureDerive } from './derive'
import { measureHttpFloor } from './httpFloor'
import { irreducibleCryptoMsPerDerive, makeFloorKeys, measurePrimitives } from './_floor'
import { measureDeriveProfile } from './deriveProfile'
import { measureOdyn } from './odyn'
import { log, processRssBytes, round } from './_harness'
import { measureKv } from './kv'
import { LOOP_PROBE_NODE_ARGS, measureLatency } from './latency'
import { registerBenchApp } from './_load'
import { createMemoryObserver } from './memory'
import { BENCH_ENV, killAllNodes, registerAndAwaitReady, retireNode, startNode, type BenchNode } from './_nodes'
import { measurePeerAttestations } from './peerAttestations'
import { measureSync } from './sync'

let chain: DevChain | undefined
let failed = false

/** `--only a,b`: the sections to run; every one when absent. */
const only = ((): Set<string> | undefined => {
  const at = process.argv.indexOf('--only')
  return at === -1 ? undefined : new Set((process.argv[at + 1] ?? '').split(',').filter((name) => name !== ''))
})()
const wanted = (...names: string[]): boolean => only === undefined || names.some((name) => only.has(name))

async function attempt<T>(name: string, run: () => Promise<T> | T): Promise<T | { error: string }> {
  log(`${name}…`)
  try {
    return await run()
  } catch (error) {
    failed = true
    log(`${name} FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

function gitRevision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head}+dirty` : head
  } catch {
    return 'unknown'
  }
}

async function cleanup(): Promise<void> {
  killAllNodes()
  await chain?.stop().catch(() => undefined)
  chain = undefined
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything the bench started`)
    void cleanup().finally(() => process.exit(130))
  })
}

/** Reads a path in the result, or null where a measurement failed. */
function pick(result: Record<string, unknown>, path: readonly string[]): unknown {
  let value: unknown = result
  for (const part of path) {
    if (typeof value !== 'object' || value === null || !(part in value)) return null
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/** The headline figures, each ratio beside the absolute numbers it divides. */
function summarize(result: Record<string, unknown>): Record<string, unknown> {
  const paths: Record<string, readonly string[]> = {
    derive_req_per_s: ['derive', 'served', 'requests_per_second'],
    derive_floor_ops_per_s: ['derive', 'floor', 'ops_per_second'],
    derive_ratio_to_floor: ['derive', 'ratio_to_floor'],
    derive_node_side_floor_ops_per_s: ['derive', 'floor', 'node_side_ops_per_second'],
    derive_ratio_to_node_side_floor: ['derive', 'ratio_to_node_side_floor'],
    derive_node_cpu_ms_per_req: ['derive', 'served', 'node_cpu_ms_per_request'],
    node_cpu_ms_per_derive: ['derive_cost', 'node_cpu_ms_per_derive'],
    irreducible_crypto_ms_per_derive: ['derive_cost', 'irreducible_crypto_ms_per_derive'],
    node_cpu_over_irreducible_crypto: ['derive_cost', 'node_cpu_over_irreducible_crypto'],
    irreducible_crypto_ms_per_derive_known_signer: ['derive_cost', 'irreducible_crypto_ms_per_derive_known_signer'],
    node_cpu_over_irreducible_crypto_known_signer: ['derive_cost', 'node_cpu_over_irreducible_crypto_known_signer'],
    pool_off_node_cpu_ms_per_derive: ['derive_cost', 'pool_off', 'node_cpu_ms_per_derive'],
    pool_off_node_cpu_over_irreducible_crypto: ['derive_cost', 'pool_off', 'node_cpu_over_irreducible_crypto'],
    node_cpu_ms_per_derive_request_alone: ['derive_cost', 'node_cpu_ms_per_derive_request_alone'],
    http_floor_hono_ms_per_derive: ['http_floor', 'stacks', 'hono', 'server_cpu_ms_per_derive'],
    http_floor_node_http_ms_per_derive: ['http_floor', 'stacks', 'node-http', 'server_cpu_ms_per_derive'],
    node_cpu_beyond_crypto_and_http_floor_ms: ['derive_cost', 'beyond_crypto_and_http_floor_ms'],
    derive_profile_busy_share: ['derive_profile', 'busy_share'],
    derive_node_cpu_share_of_crypto: ['derive', 'node_cpu_share_of_crypto'],
    nonce_share_of_node_cpu: ['derive', 'nonce_share_of_node_cpu'],
    kv_get_req_per_s: ['kv', 'get', 'served', 'requests_per_second'],
    kv_get_floor_ops_per_s: ['kv', 'get', 'floor', 'ops_per_second'],
    kv_get_ratio_to_floor: ['kv', 'get', 'ratio_to_floor'],
    kv_put_req_per_s: ['kv', 'put', 'served', 'requests_per_second'],
    kv_put_floor_ops_per_s: ['kv', 'put', 'floor', 'ops_per_second'],
    kv_put_ratio_to_floor: ['kv', 'put', 'ratio_to_floor'],
    latency_offered_per_s: ['latency', 'offered_per_second'],
    latency_p50_ms: ['latency', 'p50_ms'],
    latency_p99_ms: ['latency', 'p99_ms'],
    latency_offered_share_of_capacity: ['latency', 'offered_share_of_capacity'],
    latency_p99_over_p50: ['latency', 'p99_over_p50'],
    latency_unloaded_p50_ms: ['latency', 'unloaded_p50_ms'],
    latency_node_loop_delay_max_ms: ['latency', 'node_loop_delay_max_ms'],
    latency_node_gc_max_pause_ms: ['latency', 'node_gc_max_pause_ms'],
    latency_generator_loop_delay_max_ms: ['latency', 'generator_loop_delay_max_ms'],
    latency_unloaded_p99_ms: ['latency', 'unloaded_p99_ms'],
    latency_isolated_p50_ms: ['latency', 'isolated', 'p50_ms'],
    latency_isolated_p99_ms: ['latency', 'isolated', 'p99_ms'],
    latency_isolated_p99_over_p50: ['latency', 'isolated', 'p99_over_p50'],
    crypto_workers: ['crypto_workers', 'pool_on', 'workers'],
    latency_inline_offered_per_s: ['latency_inline', 'offered_per_second'],
    latency_inline_p50_ms: ['latency_inline', 'p50_ms'],
    latency_inline_p99_ms: ['latency_inline', 'p99_ms'],
    latency_inline_p99_over_p50: ['latency_inline', 'p99_over_p50'],
    latency_inline_isolated_p99_over_p50: ['latency_inline', 'isolated', 'p99_over_p50'],
    latency_at_inline_rate_p99_over_p50: ['latency_at_inline_rate', 'p99_over_p50'],
    derive_inline_req_per_s: ['derive_inline', 'served', 'requests_per_second'],
    node_rss_mb_pool_on: ['derive', 'node_rss_mb_after_load'],
    node_rss_mb_pool_off: ['derive_inline', 'node_rss_mb_after_load'],
    derive_node_main_thread_cpu_ms_per_req: ['derive', 'served', 'node_main_thread_cpu_ms_per_request'],
    derive_inline_node_cpu_ms_per_req: ['derive_inline', 'served', 'node_cpu_ms_per_request'],
    derive_inline_node_main_thread_cpu_ms_per_req: ['derive_inline', 'served', 'node_main_thread_cpu_ms_per_request'],
    sync_keys: ['sync', 'keys'],
    sync_converged_ms_after_last_write: ['sync', 'converged_ms'],
    sync_bytes_per_key: ['sync', 'bytes_per_key'],
    sync_amplification_vs_ideal: ['sync', 'amplification_vs_ideal'],
    memory_live_bytes_per_key: ['memory', 'live_bytes_per_key'],
    memory_ciphertext_bytes_per_key: ['memory', 'ciphertext_bytes_per_key'],
    memory_charged_bytes_per_key: ['memory', 'charged_bytes_per_key'],
    memory_payload_bytes_per_key_100k: ['memory', 'store_100k', 'payload_bytes_per_key'],
    memory_live_bytes_per_key_100k: ['memory', 'store_100k', 'live_bytes_per_key_100k'],
    memory_goal_bytes_per_key_100k: ['memory', 'store_100k', 'goal_bytes_per_key'],
    memory_within_goal_100k: ['memory', 'store_100k', 'within_goal'],
    memory_charged_bytes_per_key_100k: ['memory', 'store_100k', 'charged_bytes_per_key'],
    cold_start_ms: ['cold_start', 'total_ms'],
    cold_start_boot_ms: ['cold_start', 'boot_ms'],
    cold_start_preregistered_ms: ['cold_start', 'preregistered', 'total_ms'],
    cold_start_preregistered_boot_ms: ['cold_start', 'preregistered', 'boot_ms'],
    cold_start_preregistered_first_tick_ms: ['cold_start', 'preregistered', 'first_tick_ms'],
    kms_mjs_gzip_bytes: ['bundle', 'dist/kms.mjs', 'gzip_bytes'],
    verifier_js_gzip_bytes: ['bundle', 'dist/verifier.js', 'gzip_bytes'],
    attestation_verify_docs_per_s: ['attestation', 'verify_documents_per_second'],
    attestation_decode_docs_per_s: ['attestation', 'decode_only_documents_per_second'],
    peer_attestations_per_min_steady: ['peer_attestations', 'per_minute'],
    enclave_runtime_calls_wall_ms_per_derive: ['enclave_runtime_calls', 'per_derive_wall_ms'],
    enclave_runtime_calls_node_cpu_ms_per_derive: ['enclave_runtime_calls', 'per_derive_node_cpu_ms'],
  }
  return Object.fromEntries(Object.entries(paths).map(([name, path]) => [name, pick(result, path)]))
}

/**
 * Issue 14's figures for one derive, all from this run: the node's CPU per derive (the /nonce
 * round trip included, as an app pays it), the same without the /nonce exchange, and the
 * irreducible crypto from the primitives; the goal is a ratio ≤ 1.3.
 */
function deriveCost(result: Record<string, unknown>): Record<string, unknown> | { error: string } {
  const nodeCpu = pick(result, ['derive', 'served', 'node_cpu_ms_per_request'])
  const nonceCpu = pick(result, ['derive', 'nonce_only', 'node_cpu_ms_per_request'])
  const inlineCpu = pick(result, ['derive_inline', 'served', 'node_cpu_ms_per_request'])
  const primitives = result['crypto_primitives_us']
  if (typeof nodeCpu !== 'number' || typeof nonceCpu !== 'number' || typeof primitives !== 'object' || primitives === null || 'error' in primitives) {
    return { error: 'derive or crypto primitives failed' }
  }
  const floor = irreducibleCryptoMsPerDerive(primitives as Record<string, number>)
  // The HTTP stack's own floor (bench/httpFloor.ts): what is neither crypto nor HTTP is the node's.
  const httpFloor = pick(result, ['http_floor', 'stacks', 'hono', 'server_cpu_ms_per_derive'])
  const http =
    typeof httpFloor === 'number'
      ? {
          http_floor_ms_per_derive: httpFloor,
          beyond_crypto_and_http_floor_ms: round(nodeCpu - floor.ms - httpFloor, 3),
          irreducible_plus_http_floor_ms: round(floor.ms + httpFloor, 3),
          node_cpu_over_irreducible_plus_http_floor: round(nodeCpu / (floor.ms + httpFloor), 2),
        }
      : {}
  return {
    node_cpu_ms_per_derive: nodeCpu,
    node_cpu_ms_per_derive_request_alone: round(nodeCpu - nonceCpu, 3),
    node_cpu_ms_per_nonce_request: nonceCpu,
    irreducible_crypto_ms_per_derive: floor.ms,
    irreducible_parts_us: floor.parts_us,
    node_cpu_over_irreducible_crypto: round(nodeCpu / floor.ms, 2),
    // The node confirms a known signer by its table (core/crypto/knownSigners.ts), which beats
    // the floor of one recovery; this floor puts that confirmation in its place.
    irreducible_crypto_ms_per_derive_known_signer: floor.known_signer_ms,
    node_cpu_over_irreducible_crypto_known_signer: round(nodeCpu / floor.known_signer_ms, 2),
    // The same for the pool-off node, the shipped default below 4 cores.
    ...(typeof inlineCpu === 'number'
      ? {
          pool_off: {
            node_cpu_ms_per_derive: inlineCpu,
            node_cpu_over_irreducible_crypto: round(inlineCpu / floor.ms, 2),
            node_cpu_over_irreducible_crypto_known_signer: round(inlineCpu / floor.known_signer_ms, 2),
          },
        }
      : {}),
    request_alone_over_irreducible_crypto: round((nodeCpu - nonceCpu) / floor.ms, 2),
    ...http,
    goal_ratio: 1.3,
  }
}

/**
 * Issue 14's latency goal with the secp256k1 worker pool on (the node as shipped, `derive`
 * and `latency`) and off (`derive_inline`, `latency_inline`), from this run. Node CPU is the
 * whole process's (worker threads included); the main thread's is shown beside it.
 */
/**
 * The pooled bench node's worker count: one per core but one, at least one. Named explicitly,
 * since below 4 cores the shipped default is no pool at all.
 */
const BENCH_POOL_WORKERS = Math.max(1, availableParallelism() - 1)

/** The node's resident set right after its closed-loop derives, in MB: what the pool's threads cost in memory. */
function withResidentSet<T>(measured: T, node: BenchNode): T | (T & { node_rss_mb_after_load: number }) {
  if (typeof measured !== 'object' || measured === null || !('served' in measured)) return measured
  return { ...measured, node_rss_mb_after_load: round(processRssBytes(node.pid) / 1e6) }
}

function cryptoWorkerComparison(result: Record<string, unknown>): Record<string, unknown> {
  const side = (derive: string, latency: string): Record<string, unknown> => ({
    derive_req_per_s: pick(result, [derive, 'served', 'requests_per_second']),
    node_cpu_ms_per_derive: pick(result, [derive, 'served', 'node_cpu_ms_per_request']),
    node_main_thread_cpu_ms_per_derive: pick(result, [derive, 'served', 'node_main_thread_cpu_ms_per_request']),
    node_rss_mb_after_load: pick(result, [derive, 'node_rss_mb_after_load']),
    latency_offered_per_s: pick(result, [latency, 'offered_per_second']),
    latency_p50_ms: pick(result, [latency, 'p50_ms']),
    latency_p99_ms: pick(result, [latency, 'p99_ms']),
    latency_p99_over_p50: pick(result, [latency, 'p99_over_p50']),
    latency_isolated_p99_over_p50: pick(result, [latency, 'isolated', 'p99_over_p50']),
    latency_node_loop_delay_max_ms: pick(result, [latency, 'node_loop_delay_max_ms']),
  })
  const sameRate = (name: string): unknown => pick(result, ['latency_at_inline_rate', name])
  return {
    pool_on: { workers: BENCH_POOL_WORKERS, ...side('derive', 'latency') },
    pool_off: { workers: 0, ...side('derive_inline', 'latency_inline') },
    pool_on_at_pool_off_rate: {
      latency_offered_per_s: sameRate('offered_per_second'),
      latency_p50_ms: sameRate('p50_ms'),
      latency_p99_ms: sameRate('p99_ms'),
      latency_p99_over_p50: sameRate('p99_over_p50'),
      latency_isolated_p99_over_p50: pick(result, ['latency_at_inline_rate', 'isolated', 'p99_over_p50']),
    },
    goal_p99_over_p50: 2,
    note: 'node CPU is process CPU (every thread, the workers included); the isolated runs pin the whole node, workers too, to one core',
  }
}

async function main(): Promise<void> {
  // `npm run bench -- --soak`: the soak alone (bench/soak.ts), never part of the default run.
  if (process.argv.includes('--soak')) {
    const { runSoak } = await import('./soak')
    try {
      const soak = await runSoak((started) => (chain = started))
      process.stdout.write(`${JSON.stringify({ soak }, null, 2)}\n`)
      process.exitCode = soak['verdict'] === 'flat' && soak['failed'] === 0 ? 0 : 1
    } finally {
      await cleanup()
    }
    return
  }
  const started = performance.now()
  const loadBefore = loadavg()
  const result: Record<string, unknown> = {
    meta: {
      revision: gitRevision(),
      node: process.version,
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? 'unknown',
      started_at: new Date().toISOString(),
      note: 'medians of short rounds on a shared machine; client and node share its cores',
      node_env: {
        ...BENCH_ENV,
        why: 'RATE_LIMIT_PER_MINUTE (120), NONCE_RATE_LIMIT_PER_MINUTE (30), NODE_NONCE_RATE_LIMIT_PER_MINUTE (1800) and APP_RATE_LIMIT_PER_MINUTE (6000) are raised, not disabled: all load comes from one loopback client and one app',
      },
    },
  }
  if (wanted('bundle')) result['bundle'] = await attempt('bundle sizes', measureBundles)
  if (wanted('attestation')) result['attestation'] = await attempt('attestation verification', measureAttestation)
  const keys = await makeFloorKeys()
  if (wanted('crypto_primitives_us', 'derive_cost')) result['crypto_primitives_us'] = await attempt('crypto primitives', () => measurePrimitives(keys))
  if (wanted('enclave_runtime_calls')) result['enclave_runtime_calls'] = await attempt('enclave-mode runtime calls (nova-runtime)', measureOdyn)

  try {
    log('starting the dev chain (anvil + contracts)')
    chain = await startDevChain()
    const app = await registerBenchApp(chain)
    const devChain = chain

    // The derive and latency measurements on a node with the secp256k1 pool off
    // (KMS_NODE_CRYPTO_WORKERS=0: on the main thread, as before the pool), then the same on the
    // node as shipped, one node at a time, each at 70% of its own measured capacity.
    if (wanted('latency_inline', 'derive_inline')) {
      const node = await startNode(devChain, { nodeArgs: LOOP_PROBE_NODE_ARGS, ipc: true, env: { KMS_NODE_CRYPTO_WORKERS: '0' } })
      try {
        await registerAndAwaitReady(devChain, node)
        const derive = withResidentSet(await attempt('derive throughput, pool off', () => measureDerive(node, app, keys)), node)
        result['derive_inline'] = derive
        const capacity = 'served' in derive ? derive.served.requests_per_second : Number.NaN
        if (wanted('latency_inline')) result['latency_inline'] = await attempt('derive latency, pool off', () => measureLatency(devChain, node, app, capacity))
      } finally {
        await retireNode(devChain, node)
      }
    }
    // The loop probe lets the latency rounds tell the node's own stalls from the rest. This
    // node runs the secp256k1 worker pool, one worker per core but one (at least one), named
    // explicitly: below 4 cores the shipped default is inline.
    if (wanted('derive', 'kv', 'http_floor', 'latency', 'derive_cost')) {
      const node = await startNode(devChain, { nodeArgs: LOOP_PROBE_NODE_ARGS, ipc: true, env: { KMS_NODE_CRYPTO_WORKERS: String(BENCH_POOL_WORKERS) } })
      try {
        // Whichever bench node registers first commits the shared master secret's hash; the others preload it.
        await registerAndAwaitReady(devChain, node)
        const derive = withResidentSet(await attempt('derive throughput', () => measureDerive(node, app, keys)), node)
        result['derive'] = derive
        if (wanted('kv')) result['kv'] = await attempt('kv throughput', () => measureKv(node, app, keys))
        if (wanted('http_floor', 'derive_cost')) result['http_floor'] = await attempt('http floor', () => measureHttpFloor(node, app))
        const capacity = 'served' in derive ? derive.served.requests_per_second : Number.NaN
        if (wanted('latency')) result['latency'] = await attempt('derive latency', () => measureLatency(devChain, node, app, capacity))
        // And at the pool-off node's offered rate: the same absolute load, both ways.
        const inlineOffered = pick(result, ['latency_inline', 'offered_per_second'])
        if (wanted('latency') && typeof inlineOffered === 'number') {
          result['latency_at_inline_rate'] = await attempt('derive latency at the pool-off rate', () => measureLatency(devChain, node, app, capacity, inlineOffered / capacity))
        }
      } finally {
        await retireNode(devChain, node)
      }
      if (wanted('derive_cost')) result['derive_cost'] = deriveCost(result)
    }
    result['crypto_workers'] = cryptoWorkerComparison(result)
    if (wanted('derive_profile')) result['derive_profile'] = await attempt('derive CPU profile', () => measureDeriveProfile(devChain, app))
    // Memory per key is read on the sync nodes around the same writes (bench/memory.ts).
    const memory = createMemoryObserver()
    if (wanted('sync', 'memory')) {
      result['sync'] = await attempt('sync convergence', () => measureSync(devChain, app, memory))
      result['memory'] = await attempt('memory per key', () => memory.result())
    }
    if (wanted('cold_start')) result['cold_start'] = await attempt('cold start', () => measureColdStart(devChain))
    if (wanted('peer_attestations')) result['peer_attestations'] = await attempt('peer attestations at steady state', () => measurePeerAttestations(devChain, app))
  } catch (error) {
    failed = true
    log(`bench aborted: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
    result['error'] = error instanceof Error ? error.message : String(error)
  } finally {
    await cleanup()
  }
  const meta = result['meta'] as Record<string, unknown>
  meta['seconds'] = round((performance.now() - started) / 1000, 1)
  meta['loadavg_1m_before_after'] = [round(loadBefore[0]!, 2), round(loadavg()[0]!, 2)]
  process.stdout.write(`${JSON.stringify({ summary: summarize(result), ...result }, null, 2)}\n`)
  process.exitCode = failed ? 1 : 0
}

await main()
