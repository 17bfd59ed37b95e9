/**
 * Graceful shutdown of `node dist/kms.mjs` (issue 13): SIGTERM or SIGINT stops the ticks and
 * the listener, lets the requests in flight finish (each answer closing its connection),
 * then exits 0, within 10 s whatever the clients do. Against anvil, with real authenticated
 * derives whose bodies the test holds half-sent across the signal, so that they are in flight
 * in the node for certain.
 */
import { request as httpRequest, Agent, type IncomingHttpHeaders } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signal, spawnKmsNode, waitUntil, type KmsNodeProcess } from '../../bundle/processes'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { assertBundleBuilt, nodeEnvironment, registerKmsNode, registerTestApp, tickUntil, type NodeStatus, type TestApp, type TestNode } from '../helpers/kmsNodes'

const BURST = 50
/** The node's bound (bundle/node.ts SHUTDOWN_GRACE_MS). */
const GRACE_MS = 10_000
/** How long the burst's bodies stay half-sent after the signal. */
const HOLD_AFTER_SIGNAL_MS = 3000

let chain: DevChain
let app: TestApp
const cleanups: (() => Promise<unknown>)[] = []

beforeAll(async () => {
  chain = await startDevChain()
  app = await registerTestApp(chain)
})

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
  await chain?.stop()
})

interface RunningNode {
  child: KmsNodeProcess
  node: TestNode
  output: string[]
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
}

/** A fresh node that commits its own secret (the hash is reset first) and serves. */
async function startReadyNode(): Promise<RunningNode> {
  assertBundleBuilt()
  await chain.resetMasterSecretHash()
  const output: string[] = []
  const child = await spawnKmsNode({
    env: nodeEnvironment(chain, {
      LOG_LEVEL: 'INFO',
      KMS_NODE_TICK_SECONDS: '1',
      // Every request of the test comes from 127.0.0.1: the per-client limits would refuse the burst.
      RATE_LIMIT_PER_MINUTE: '0',
      NONCE_RATE_LIMIT_PER_MINUTE: '0',
    }),
    onOutput: (line) => output.push(line),
  })
  cleanups.push(child.stop)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal, at: performance.now() })),
  )
  const fetcher = (path: string, init?: RequestInit): Promise<Response> => fetch(`${child.url}${path}`, init)
  const node: TestNode = {
    kind: 'process',
    pid: child.pid,
    url: child.url,
    fetch: fetcher,
    tick: async () => undefined,
    status: async () => (await (await fetcher('/status')).json()) as NodeStatus,
    stop: child.stop,
  }
  const { instanceId } = await registerKmsNode(chain, node)
  // Once stopped, the instance leaves the registry, so the next node does not wait on it.
  cleanups.push(() => chain.setInstanceStatus(instanceId, 1))
  await tickUntil(node, (status) => status.node.service_available, { attempts: 60, delayMs: 500 })
  return { child, node, output, exited }
}

interface HeldAnswer {
  status: number
  connection: string | undefined
}

/**
 * A fetch for the SDK that sends a POST's headers and the first half of its body, then waits
 * for `release` before sending the rest; GETs (the nonces) go straight through. Each POST
 * gets its own connection.
 */
function holdingFetch(release: Promise<void>, onHeld: () => void, answers: HeldAnswer[]): typeof fetch {
  return async (input, init) => {
    if ((init?.method ?? 'GET') !== 'POST') return fetch(input, init)
    const body = Buffer.from(String(init!.body))
    const headers = { ...(init!.headers as Record<string, string>), 'content-length': String(body.length) }
    return new Promise<Response>((resolve, reject) => {
      const request = httpRequest(String(input), { method: 'POST', headers, agent: false }, (response) => {
        const chunks: Buffer[] = []
        response.on('data', (chunk: Buffer) => chunks.push(chunk))
        response.once('error', reject)
        response.once('end', () => {
          answers.push({ status: response.statusCode ?? 0, connection: response.headers.connection })
          resolve(new Response(Buffer.concat(chunks), { status: response.statusCode, headers: toHeaders(response.headers) }))
        })
      })
      request.once('error', reject)
      const half = Math.floor(body.length / 2)
      request.write(body.subarray(0, half), () => {
        onHeld()
        void release.then(() => request.end(body.subarray(half)))
      })
    })
  }
}

function toHeaders(headers: IncomingHttpHeaders): Headers {
  const result = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value]) result.append(name, item)
  }
  return result
}

/** What a new request gets: `refused` (ECONNREFUSED), its status, `hang` past `timeoutMs`, or another error code. */
async function probe(url: string, timeoutMs = 3000): Promise<string | number> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })).status
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') return 'hang'
    const code = ((error as { cause?: { code?: string } }).cause?.code) ?? String(error)
    return code === 'ECONNREFUSED' ? 'refused' : code
  }
}

function logLine(output: string[], message: string): Record<string, unknown> | undefined {
  const line = output.find((entry) => entry.includes(`"msg":"${message}"`))
  return line === undefined ? undefined : (JSON.parse(line) as Record<string, unknown>)
}

describe('graceful shutdown of node dist/kms.mjs', () => {
  it(`behavior: SIGTERM during ${BURST} derives in flight answers all of them, refuses new requests, and exits 0 within ${GRACE_MS / 1000} s`, async () => {
    const { child, node, output, exited } = await startReadyNode()
    let releaseBodies!: () => void
    const release = new Promise<void>((resolve) => (releaseBodies = resolve))
    let held = 0
    const answers: HeldAnswer[] = []
    const client = await app.client(node, { fetch: holdingFetch(release, () => held++, answers) })

    const derives = Promise.allSettled(Array.from({ length: BURST }, (_, index) => client.derive({ path: 'shutdown/burst', context: String(index % 5) })))
    await waitUntil(`${BURST} derives to be half-sent`, () => held === BURST, { timeoutMs: 30_000, intervalMs: 20 })
    // A keep-alive connection left idle: the shutdown must close it, not keep it open.
    const agent = new Agent({ keepAlive: true })
    cleanups.push(async () => agent.destroy())
    const idle = await new Promise<{ closed: Promise<void> }>((resolve, reject) => {
      httpRequest(`${child.url}/health`, { agent }, (response) => {
        const closed = new Promise<void>((done) => response.socket.once('close', () => done()))
        response.resume()
        response.once('end', () => resolve({ closed }))
      }).once('error', reject).end()
    })
    // The node has read the headers of every derive (headers first, then the body, §2).
    await new Promise((resolve) => setTimeout(resolve, 1000))

    const signalledAt = performance.now()
    signal(child.pid, 'SIGTERM')
    const shuttingDown = await waitUntil('the node to log its shutdown', () => logLine(output, 'shutting down'), { timeoutMs: 5000, intervalMs: 10 })
    expect(shuttingDown['requests_in_flight']).toBe(BURST)
    await idle.closed

    // Sent after SIGTERM: the listener is closed, so the connection is refused at once; never a hang.
    expect(['refused', 503]).toContain(await probe(`${node.url}/health`))
    expect(['refused', 503]).toContain(await probe(`${node.url}/status`))

    // Slow clients: the bodies finish 3 s after the signal, past the 2 s the node used to allow.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, signalledAt + HOLD_AFTER_SIGNAL_MS - performance.now())))
    releaseBodies()
    const results = await derives
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []))
    expect(failures).toEqual([])
    const keys = new Map<string, Set<string>>()
    results.forEach((result, index) => {
      if (result.status !== 'fulfilled') return
      const context = String(index % 5)
      keys.set(context, (keys.get(context) ?? new Set()).add(bytesToHex(result.value.key)))
    })
    expect([...keys.values()].map((set) => set.size)).toEqual([1, 1, 1, 1, 1])
    expect(answers).toHaveLength(BURST)
    expect(answers.every((answer) => answer.status === 200 && answer.connection === 'close')).toBe(true)

    const exit = await exited
    const exitMs = Math.round(exit.at - signalledAt)
    expect(exit).toMatchObject({ code: 0, signal: null })
    expect(exitMs).toBeGreaterThanOrEqual(HOLD_AFTER_SIGNAL_MS)
    expect(exitMs).toBeLessThan(GRACE_MS)
    expect(logLine(output, 'stopped')).toMatchObject({ requests_in_flight_at_signal: BURST })
    expect(logLine(output, 'shutdown grace elapsed; closing the connections left')).toBeUndefined()
    console.info(`shutdown: ${shuttingDown['requests_in_flight']} requests in flight at SIGTERM, ${answers.length} answered 200, exit 0 after ${exitMs} ms`)
  })

  it(`error: a request that never finishes does not hold the exit past ${GRACE_MS / 1000} s (SIGINT)`, async () => {
    const { child, node, output, exited } = await startReadyNode()
    let held = 0
    const never = new Promise<void>(() => undefined)
    const client = await app.client(node, { fetch: holdingFetch(never, () => held++, []) })
    const stuck = client.derive({ path: 'shutdown/stuck' }).then(() => 'answered', () => 'cut')
    await waitUntil('the derive to be half-sent', () => held === 1, { timeoutMs: 30_000, intervalMs: 20 })
    await new Promise((resolve) => setTimeout(resolve, 500))

    const signalledAt = performance.now()
    signal(child.pid, 'SIGINT')
    const exit = await exited
    const exitMs = Math.round(exit.at - signalledAt)
    expect(exit).toMatchObject({ code: 0, signal: null })
    expect(exitMs).toBeGreaterThanOrEqual(GRACE_MS - 500)
    expect(exitMs).toBeLessThan(GRACE_MS + 3000)
    expect(await stuck).toBe('cut')
    expect(logLine(output, 'shutting down')).toMatchObject({ signal: 'SIGINT', requests_in_flight: 1 })
    expect(logLine(output, 'shutdown grace elapsed; closing the connections left')).toMatchObject({ requests_left: 1 })
  })
})
