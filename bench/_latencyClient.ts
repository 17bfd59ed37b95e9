/**
 * One open-loop load generator for bench/latency.ts, run as its own process (`node --import
 * tsx bench/_latencyClient.ts <json>`): a derive is a whole SDK exchange, and the client's
 * own crypto (PoP signature, envelope, verifying and opening the answer) costs about as much
 * CPU as the node's. On one event loop the client's queue would add its own tail to the
 * node's, so the load is split over processes, each on a fixed, interleaved schedule.
 * Prints `ready` once warmed up, reads the shared start (epoch ms) from stdin, runs, and
 * prints one JSON line: `{"samples": [ms…], "errors": n, "loop_delay_p99_ms", "loop_delay_max_ms"}`.
 * The loop delay is this generator's own (sampled every 5 ms, so its floor is 5 ms): a
 * generator whose loop stalls stamps its answers late, and that lateness is in `samples`.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { KmsClient } from '../core/client'
import { importP384PrivateKey } from '../core/crypto'
import { parseHex } from '../core/encoding'
import { cryptoRandom, systemClock } from '../test/helpers/kmsNodes'

export interface LatencyClientJob {
  url: string
  nodeWallet: string
  nodeTeePubkeyHex: string
  walletKeyHex: string
  teeScalarHex: string
  intervalMs: number
  /** This generator sends at start + (k · generators + index) · intervalMs. */
  index: number
  generators: number
  requests: number
}

async function run(job: LatencyClientJob): Promise<void> {
  const client = new KmsClient({
    node: { url: job.url, wallet: job.nodeWallet as `0x${string}`, teePubkeyDer: parseHex(job.nodeTeePubkeyHex)! },
    walletKey: parseHex(job.walletKeyHex)!,
    teeKey: await importP384PrivateKey(parseHex(job.teeScalarHex)!),
    clock: systemClock,
    random: cryptoRandom,
    fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(10_000) }),
  })
  for (let index = 0; index < 10; index++) await client.derive({ path: 'bench/latency' }) // warm
  process.stdout.write('ready\n')
  const startAtEpochMs = Number(await firstLine(process.stdin))
  const loopDelay = monitorEventLoopDelay({ resolution: 5 })
  loopDelay.enable()
  const samples: number[] = []
  let errors = 0
  const inFlight: Promise<void>[] = []
  const startPerf = startAtEpochMs - performance.timeOrigin
  for (let k = 0; k < job.requests; k++) {
    const scheduled = startPerf + (k * job.generators + job.index) * job.intervalMs
    const wait = scheduled - performance.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    inFlight.push(
      client.derive({ path: 'bench/latency', context: `${job.index}-${k}` }).then(
        () => void samples.push(performance.now() - scheduled),
        () => void errors++,
      ),
    )
  }
  await Promise.all(inFlight)
  loopDelay.disable()
  const ms = (nanoseconds: number): number => Math.round(nanoseconds / 1e4) / 100
  const loop = { loop_delay_p99_ms: ms(loopDelay.percentile(99)), loop_delay_max_ms: ms(loopDelay.max) }
  process.stdout.write(`${JSON.stringify({ samples, errors, ...loop })}\n`)
}

function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      text += chunk
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')))
    })
    stream.on('end', () => resolve(text))
  })
}

await run(JSON.parse(process.argv[2]!) as LatencyClientJob)
