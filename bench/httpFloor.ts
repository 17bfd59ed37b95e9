/**
 * 1c. The HTTP floor: what the two HTTP exchanges of one derive (GET /nonce, then POST
 * /kms/derive) cost a server that does nothing else. One real derive against the bench node
 * is recorded (request headers and body, answer status, headers and body); a server process
 * then answers with those recorded bytes, reading and JSON-parsing each body as a real handler
 * must, on two stacks: bare `node:http`, and the node's own (hono on @hono/node-server). The
 * same closed-loop clients (fetch, keep-alive) load it, and its CPU per pair is what the
 * node's derive can never go below on that stack. Issue 14 asks node CPU ≤ 1.3× the
 * irreducible crypto; this figure says how much of the remainder is the HTTP stack itself.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findFreePort, forEachLine, hasExited, signal, waitUntil } from '../bundle/processes'
import { KmsClient } from '../core/client'
import { parseHex } from '../core/encoding'
import { cryptoRandom, systemClock } from '../test/helpers/kmsNodes'
import { log, median, processCpuMs, round } from './_harness'
import type { BenchApp } from './_load'
import type { BenchNode } from './_nodes'
import { CONCURRENCY } from './derive'

const ROUNDS = 3
const ROUND_MS = 2000
const WARMUP_MS = 1000
const REQUEST_TIMEOUT_MS = 10_000
export const HTTP_FLOOR_STACKS = ['node-http', 'hono'] as const
type Stack = (typeof HTTP_FLOOR_STACKS)[number]

interface RecordedRequest {
  method: string
  headers: Record<string, string>
  body: string | undefined
}
interface RecordedAnswer {
  status: number
  headers: Record<string, string>
  body: string
}
interface RecordedExchange {
  request: { nonce: RecordedRequest; derive: RecordedRequest }
  answer: { nonce: RecordedAnswer; derive: RecordedAnswer }
}

/** Headers the HTTP layer writes by itself; replaying them would duplicate them. */
const TRANSPORT_HEADERS = new Set(['content-length', 'connection', 'keep-alive', 'date', 'transfer-encoding'])

/** One real derive through the SDK, with a fetch that keeps every byte it sends and receives. */
async function recordExchange(node: BenchNode, app: BenchApp): Promise<RecordedExchange> {
  const requests: RecordedRequest[] = []
  const answers: RecordedAnswer[] = []
  const recordingFetch: typeof fetch = async (input, init) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries())
    requests.push({ method: init?.method ?? 'GET', headers, body: typeof init?.body === 'string' ? init.body : undefined })
    const response = await fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
    const body = await response.text()
    const answerHeaders = Object.fromEntries([...response.headers.entries()].filter(([name]) => !TRANSPORT_HEADERS.has(name)))
    answers.push({ status: response.status, headers: answerHeaders, body })
    return new Response(body, { status: response.status, headers: response.headers })
  }
  const { node: self } = await node.status()
  const client = new KmsClient({
    node: { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! },
    walletKey: app.app.walletKey,
    teeKey: app.app.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    fetch: recordingFetch,
  })
  await client.derive({ path: 'bench/derive', context: 'http-floor' })
  if (requests.length !== 2 || requests[1]!.body === undefined) throw new Error(`http floor: expected GET /nonce then a POST with a body, saw ${requests.length} requests`)
  return { request: { nonce: requests[0]!, derive: requests[1]! }, answer: { nonce: answers[0]!, derive: answers[1]! } }
}

export interface HttpFloorStackResult {
  pairs_per_second: number
  /** Server CPU (all threads) per GET /nonce + POST /kms/derive pair. */
  server_cpu_ms_per_derive: number
}

export interface HttpFloorResult {
  request_bytes: { nonce: number; derive: number }
  answer_bytes: { nonce: number; derive: number }
  stacks: Record<Stack, HttpFloorStackResult>
}

async function measureStack(stack: Stack, exchangeFile: string, exchange: RecordedExchange): Promise<HttpFloorStackResult> {
  const port = await findFreePort()
  const child = spawn(process.execPath, ['bench/_httpFloorServer.mjs', stack, String(port), exchangeFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    let ready = false
    forEachLine(child.stdout, (line) => void (line === 'ready' && (ready = true)))
    await waitUntil(`the http floor server (${stack})`, () => ready, {
      timeoutMs: 10_000,
      intervalMs: 20,
      abortIf: () => (hasExited(child) ? `it exited with ${child.exitCode ?? child.signalCode}` : undefined),
    })
    const base = `http://127.0.0.1:${port}`
    const pair = async (): Promise<void> => {
      const { nonce, derive } = exchange.request
      await (await fetch(`${base}/nonce`, { headers: nonce.headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).arrayBuffer()
      await (await fetch(`${base}/kms/derive`, { method: 'POST', headers: derive.headers, body: derive.body!, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).arrayBuffer()
    }
    const measureRound = async (durationMs: number): Promise<{ rate: number; cpuPerPair: number }> => {
      const cpuBefore = processCpuMs(child.pid!)
      const started = performance.now()
      const deadline = started + durationMs
      const counts = await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          let done = 0
          while (performance.now() < deadline) {
            await pair()
            done++
          }
          return done
        }),
      )
      const pairs = counts.reduce((sum, count) => sum + count, 0)
      return { rate: (pairs * 1000) / (performance.now() - started), cpuPerPair: (processCpuMs(child.pid!) - cpuBefore) / pairs }
    }
    await measureRound(WARMUP_MS)
    const rounds = []
    for (let index = 0; index < ROUNDS; index++) rounds.push(await measureRound(ROUND_MS))
    const result = { pairs_per_second: round(median(rounds.map((r) => r.rate))), server_cpu_ms_per_derive: round(median(rounds.map((r) => r.cpuPerPair)), 3) }
    log(`http floor (${stack}): ${result.server_cpu_ms_per_derive} ms server CPU per derive's two exchanges`)
    return result
  } finally {
    if (!hasExited(child)) signal(child.pid!, 'SIGKILL')
  }
}

export async function measureHttpFloor(node: BenchNode, app: BenchApp): Promise<HttpFloorResult> {
  const exchange = await recordExchange(node, app)
  const directory = mkdtempSync(join(tmpdir(), 'nova-kms-http-floor-'))
  try {
    const exchangeFile = join(directory, 'exchange.json')
    writeFileSync(exchangeFile, JSON.stringify(exchange.answer))
    const stacks = {} as Record<Stack, HttpFloorStackResult>
    for (const stack of HTTP_FLOOR_STACKS) stacks[stack] = await measureStack(stack, exchangeFile, exchange)
    const bytes = (text: string | undefined): number => Buffer.byteLength(text ?? '')
    return {
      request_bytes: { nonce: 0, derive: bytes(exchange.request.derive.body) },
      answer_bytes: { nonce: bytes(exchange.answer.nonce.body), derive: bytes(exchange.answer.derive.body) },
      stacks,
    }
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}
