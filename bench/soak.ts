/**
 * The soak (issue 14), opt-in: `npm run bench -- --soak`. Never part of `npm test` or of the
 * default bench run.
 *
 * Three `node dist/kms.mjs` processes on anvil (the bench's nodes, bench/_nodes.ts, with
 * DATA_SYNC_INTERVAL_SECONDS=1) take mixed traffic for SOAK_SECONDS (default 600): derive,
 * put, get, delete and list, from SOAK_WORKERS SDK clients (default 3), each with one request
 * in flight and a short pause after it, on nodes and keys picked at random. Keys come from a
 * fixed set of SOAK_KEYS (default 500) of 1 KiB values, so the store stops growing once every
 * key was written: whatever still grows after that is a leak.
 *
 * Every SOAK_SAMPLE_SECONDS (default 5) each node is sampled, from outside, with what works
 * on a real process:
 * - resident set: `VmRSS` of /proc/<pid>/status;
 * - heap used: `process.memoryUsage().heapUsed` after two full collections, answered on IPC by
 *   bench/memoryProbe.mjs (preloaded with --expose-gc; it does nothing else);
 * - open handles: the entries of /proc/<pid>/fd (sockets, pipes, files: what the kernel holds
 *   for the process).
 *
 * Before the clock starts, every key is written once and replicated, so the store is at its
 * size. The first quarter of the run (at most 150 s) is then left out of the slopes: JIT,
 * connection pools, and the bounded memories that fill for POP_TIMEOUT_SECONDS (120 s) under
 * a steady request rate (nonces, envelope replay pairs) before they turn over. Over the rest,
 * each series gets its least-squares slope per minute, and a verdict: `flat` if |slope| is
 * within the stated tolerance, else `growing` or `shrinking`. A short trial (SOAK_SECONDS=60)
 * checks that the soak runs; only a full one (600 s: 450 s measured) says whether memory is
 * flat. Prints one summary line (stderr, with the progress) and the JSON (stdout).
 */
import { once } from 'node:events'
import { readdirSync } from 'node:fs'
import { waitUntil } from '../bundle/processes'
import type { KmsClient } from '../core/client'
import { startDevChain, type DevChain } from '../test/helpers/devChain'
import { clientFor, registerTestApp } from '../test/helpers/kmsNodes'
import { log, processRssBytes, round, sleep } from './_harness'
import { killAllNodes, registerAndAwaitReady, startNode, type BenchNode } from './_nodes'

/** Slopes within these are `flat`. A 10-minute run at the tolerance grows 20 MB, 10 MB, 10 fds. */
export const TOLERANCE_PER_MINUTE = { rss_bytes: 2 * 2 ** 20, heap_used_bytes: 1 * 2 ** 20, open_fds: 1 } as const

type Series = keyof typeof TOLERANCE_PER_MINUTE

interface Sample {
  t_s: number
  rss_bytes: number
  heap_used_bytes: number
  open_fds: number
}

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(raw)}`)
  return value
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length
  if (n < 2) return Number.NaN
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n
  let numerator = 0
  let denominator = 0
  for (const { x, y } of points) {
    numerator += (x - meanX) * (y - meanY)
    denominator += (x - meanX) ** 2
  }
  return denominator === 0 ? Number.NaN : numerator / denominator
}

async function heapUsed(node: BenchNode): Promise<number> {
  const answer = once(node.child, 'message', { signal: AbortSignal.timeout(10_000) })
  node.child.send('memory')
  const [usage] = (await answer) as [{ heapUsed: number }]
  return usage.heapUsed
}

async function sample(node: BenchNode, startedAt: number): Promise<Sample> {
  return {
    t_s: (performance.now() - startedAt) / 1000,
    rss_bytes: processRssBytes(node.pid),
    heap_used_bytes: await heapUsed(node),
    open_fds: readdirSync(`/proc/${node.pid}/fd`).length,
  }
}

type Operation = 'derive' | 'put' | 'get' | 'delete' | 'list'
const MIX: readonly Operation[] = ['derive', 'derive', 'put', 'put', 'get', 'get', 'get', 'delete', 'list']

/**
 * Runs the soak on its own dev chain. `onChain` hands the chain to the caller as soon as it
 * runs, so that bench/index.ts's cleanup (also on Ctrl-C) stops it with the nodes.
 */
export async function runSoak(onChain: (chain: DevChain) => void): Promise<Record<string, unknown>> {
  const seconds = envNumber('SOAK_SECONDS', 600)
  const sampleSeconds = envNumber('SOAK_SAMPLE_SECONDS', 5)
  const workers = Math.round(envNumber('SOAK_WORKERS', 3))
  const keys = Math.round(envNumber('SOAK_KEYS', 500))
  const warmupSeconds = Math.min(150, seconds * 0.25)
  log(`soak: ${seconds} s, ${workers} workers, ${keys} keys, a sample every ${sampleSeconds} s, warm-up ${warmupSeconds} s`)

  const chain = await startDevChain()
  onChain(chain)
  const probe = ['--expose-gc', '--import', new URL('./memoryProbe.mjs', import.meta.url).href]
  const nodes: BenchNode[] = []
  for (let index = 0; index < 3; index++) {
    const node = await startNode(chain, { env: { DATA_SYNC_INTERVAL_SECONDS: '1' }, nodeArgs: probe, ipc: true })
    nodes.push(node)
    await registerAndAwaitReady(chain, node)
  }
  const app = await registerTestApp(chain)
  const timedFetch: typeof fetch = (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) })
  const clients: KmsClient[][] = await Promise.all(
    Array.from({ length: workers }, () => Promise.all(nodes.map((node) => clientFor(node, { walletKey: app.walletKey, teeKey: app.teeKey, fetch: timedFetch })))),
  )
  const counts: Record<Operation, { ok: number; failed: number }> = {
    derive: { ok: 0, failed: 0 },
    put: { ok: 0, failed: 0 },
    get: { ok: 0, failed: 0 },
    delete: { ok: 0, failed: 0 },
    list: { ok: 0, failed: 0 },
  }
  const failures: Record<string, number> = {}
  const value = new Uint8Array(1024).fill(0x73)

  // Every key once, from six writers on node 1, then until every node holds them all.
  let next = 0
  await Promise.all(
    Array.from({ length: 6 }, async (_, writer) => {
      const client = clients[writer % workers]![0]!
      for (let index = next++; index < keys; index = next++) await client.putData(`soak-${index}`, value)
    }),
  )
  await waitUntil('every node holds every soak key', async () => (await Promise.all(nodes.map(async (node) => (await node.status()).data_store.total_keys))).every((count) => count === keys), { timeoutMs: 60_000, intervalMs: 250 })
  log(`soak: ${keys} keys written and replicated; traffic starts`)

  const startedAt = performance.now()
  const deadline = startedAt + seconds * 1000
  const samples: Sample[][] = nodes.map(() => [])
  const sampler = (async () => {
    while (performance.now() < deadline) {
      const taken = await Promise.all(nodes.map((node) => sample(node, startedAt)))
      taken.forEach((entry, index) => samples[index]!.push(entry))
      const last = taken.map((entry) => `${round(entry.rss_bytes / 2 ** 20, 1)}/${round(entry.heap_used_bytes / 2 ** 20, 1)} MiB ${entry.open_fds} fds`).join(', ')
      log(`soak +${round(taken[0]!.t_s, 0)} s: rss/heap ${last}`)
      await sleep(sampleSeconds * 1000)
    }
  })()
  await Promise.all(
    clients.map(async (perNode) => {
      while (performance.now() < deadline) {
        const operation = MIX[Math.floor(Math.random() * MIX.length)]!
        const client = perNode[Math.floor(Math.random() * perNode.length)]!
        const key = `soak-${Math.floor(Math.random() * keys)}`
        try {
          if (operation === 'derive') await client.derive({ path: `soak/${Math.floor(Math.random() * 100)}` })
          else if (operation === 'put') await client.putData(key, value)
          else if (operation === 'get') await client.getData(key)
          else if (operation === 'delete') await client.deleteData(key)
          else await client.listData()
          counts[operation].ok++
        } catch (error) {
          // A get or delete of a key never written (or deleted) is a 404: part of the mix.
          const status = (error as { status?: number }).status
          if (status === 404 && (operation === 'get' || operation === 'delete')) counts[operation].ok++
          else {
            counts[operation].failed++
            const reason = `${operation}: ${status ?? ''} ${error instanceof Error ? error.message : String(error)}`.slice(0, 120)
            failures[reason] = (failures[reason] ?? 0) + 1
          }
        }
        await sleep(10)
      }
    }),
  )
  await sampler

  const series: Series[] = ['rss_bytes', 'heap_used_bytes', 'open_fds']
  const perNode = samples.map((taken, index) => {
    const steady = taken.filter((entry) => entry.t_s >= warmupSeconds)
    const figures: Record<string, unknown> = { pid: nodes[index]!.pid, samples: taken.length, steady_samples: steady.length }
    for (const name of series) {
      const perMinute = slope(steady.map((entry) => ({ x: entry.t_s / 60, y: entry[name] })))
      const tolerance = TOLERANCE_PER_MINUTE[name]
      figures[name] = {
        first: steady[0]?.[name] ?? null,
        last: steady.at(-1)?.[name] ?? null,
        min: Math.min(...steady.map((entry) => entry[name])),
        max: Math.max(...steady.map((entry) => entry[name])),
        slope_per_minute: round(perMinute, 1),
        tolerance_per_minute: tolerance,
        verdict: !Number.isFinite(perMinute) ? 'too few samples' : Math.abs(perMinute) <= tolerance ? 'flat' : perMinute > 0 ? 'growing' : 'shrinking',
      }
    }
    return figures
  })
  const requests = Object.values(counts).reduce((sum, count) => sum + count.ok + count.failed, 0)
  const failed = Object.values(counts).reduce((sum, count) => sum + count.failed, 0)
  const verdicts = perNode.flatMap((figures) => series.map((name) => (figures[name] as { verdict: string }).verdict))
  const verdict = verdicts.every((entry) => entry === 'flat') ? 'flat' : verdicts.includes('growing') ? 'growing' : 'inconclusive'
  const result = {
    seconds,
    sample_seconds: sampleSeconds,
    warmup_seconds: warmupSeconds,
    workers,
    keys,
    requests,
    requests_per_second: round(requests / seconds, 1),
    failed,
    counts,
    failures,
    tolerance_per_minute: TOLERANCE_PER_MINUTE,
    verdict,
    nodes: perNode,
    samples: samples.map((taken) => taken.map((entry) => ({ ...entry, t_s: round(entry.t_s, 1) }))),
  }
  const slopes = perNode
    .map((figures, index) => {
      const of = (name: Series): number => (figures[name] as { slope_per_minute: number }).slope_per_minute
      return `n${index + 1} rss ${round(of('rss_bytes') / 2 ** 20, 2)} MiB/min heap ${round(of('heap_used_bytes') / 2 ** 20, 2)} MiB/min fds ${of('open_fds')}/min`
    })
    .join('; ')
  log(`soak: ${seconds}s requests=${requests} failed=${failed} verdict=${verdict} (${slopes})`)
  for (const node of nodes) await node.stop()
  killAllNodes()
  return result
}
