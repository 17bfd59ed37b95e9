/**
 * A hostile peer (issue 12, H2): a node:http server on loopback that the registry lists as a
 * KMS instance and that answers `/nonce`, `/sync` and `/status` with what a host that runs
 * the network could send: a huge body streamed without end, a body that trickles, or a
 * redirect to another loopback server (the recorder) that notes everything it receives.
 *
 * Every stream is bounded: a huge body stops at `hugeBytes`, a slow one after
 * `slowMaxMs`, and both stop as soon as the client goes away.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { LOOPBACK } from '../../bundle/processes'

export type NonceMode = 'ok' | 'huge' | 'slow' | 'redirect'
export type SyncMode = 'huge' | 'slow' | 'redirect' | 'refuse'

export interface RouteStats {
  requests: number
  /** Bytes the server managed to write before the client went away or the stream ended. */
  bytesWritten: number
  /** Answers the client abandoned before the end. */
  abandoned: number
  /** Wall time from the request to the client going away, per abandoned answer. */
  abandonedAfterMs: number[]
}

export interface HostilePeer {
  url: string
  nonce: NonceMode
  sync: SyncMode
  status: 'huge' | 'redirect' | 'ok'
  /** How much a `huge` answer streams at most (default 200 MB). */
  hugeBytes: number
  /** A `huge` answer declares this Content-Length; omitted: chunked. */
  declareLength: boolean
  readonly stats: Record<'nonce' | 'sync' | 'status', RouteStats>
  close(): Promise<void>
}

export interface RecordedRequest {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  bodyBytes: number
}

/** The redirect target: answers 404 and remembers every request. */
export interface Recorder {
  url: string
  readonly received: RecordedRequest[]
  close(): Promise<void>
}

const CHUNK = Buffer.alloc(64 * 1024, 0x41) // 'A'
const SLOW_INTERVAL_MS = 1000
const SLOW_MAX_MS = 120_000

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()))
  const address = server.address()
  return `http://${LOOPBACK}:${typeof address === 'object' && address !== null ? address.port : 0}`
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

export async function startRecorder(): Promise<Recorder> {
  const received: RecordedRequest[] = []
  const server = createServer((incoming, outgoing) => {
    let bodyBytes = 0
    incoming.on('data', (chunk: Buffer) => (bodyBytes += chunk.length))
    incoming.on('end', () => {
      received.push({ method: incoming.method ?? '', url: incoming.url ?? '', headers: { ...incoming.headers }, bodyBytes })
      outgoing.writeHead(404, { 'content-type': 'application/json' }).end('{"code":"not_found","message":"recorder"}')
    })
  })
  const url = await listen(server)
  return { url, received, close: () => closeServer(server) }
}

function newStats(): RouteStats {
  return { requests: 0, bytesWritten: 0, abandoned: 0, abandonedAfterMs: [] }
}

/** Streams `total` bytes (after `prefix`), honouring back-pressure; stops when the client leaves. */
function streamHuge(outgoing: ServerResponse, prefix: string, total: number, stats: RouteStats, declareLength: boolean): void {
  const started = performance.now()
  let gone = false
  outgoing.on('close', () => {
    if (!outgoing.writableFinished) {
      gone = true
      stats.abandoned++
      stats.abandonedAfterMs.push(performance.now() - started)
    }
  })
  outgoing.writeHead(200, { 'content-type': 'application/json', ...(declareLength ? { 'content-length': String(prefix.length + total) } : {}) })
  outgoing.write(prefix)
  stats.bytesWritten += prefix.length
  let sent = 0
  const pump = (): void => {
    while (!gone && sent < total) {
      const chunk = total - sent >= CHUNK.length ? CHUNK : CHUNK.subarray(0, total - sent)
      sent += chunk.length
      stats.bytesWritten += chunk.length
      if (!outgoing.write(chunk)) {
        outgoing.once('drain', pump)
        return
      }
    }
    if (!gone) outgoing.end()
  }
  pump()
}

/** One byte a second, for at most `SLOW_MAX_MS`; stops when the client leaves. */
function streamSlow(outgoing: ServerResponse, prefix: string, stats: RouteStats): void {
  const started = performance.now()
  outgoing.writeHead(200, { 'content-type': 'application/json' })
  outgoing.write(prefix)
  stats.bytesWritten += prefix.length
  const timer = setInterval(() => {
    if (performance.now() - started > SLOW_MAX_MS) {
      clearInterval(timer)
      outgoing.end()
      return
    }
    outgoing.write('A')
    stats.bytesWritten++
  }, SLOW_INTERVAL_MS)
  outgoing.on('close', () => {
    clearInterval(timer)
    if (!outgoing.writableFinished) {
      stats.abandoned++
      stats.abandonedAfterMs.push(performance.now() - started)
    }
  })
}

function redirect(outgoing: ServerResponse, target: string): void {
  outgoing.writeHead(307, { location: target, 'content-type': 'application/json' }).end('{}')
}

export async function startHostilePeer(recorder: Recorder): Promise<HostilePeer> {
  let server: Server | undefined
  const peer: HostilePeer = {
    url: '',
    nonce: 'huge',
    sync: 'huge',
    status: 'huge',
    hugeBytes: 200_000_000,
    declareLength: false,
    stats: { nonce: newStats(), sync: newStats(), status: newStats() },
    close: () => (server === undefined ? Promise.resolve() : closeServer(server)),
  }
  const handle = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const path = new URL(incoming.url ?? '/', 'http://x').pathname
    // A request body is drained, never kept.
    incoming.resume()
    if (path === '/nonce') {
      const stats = peer.stats.nonce
      stats.requests++
      if (peer.nonce === 'ok') {
        outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: Buffer.alloc(16, 7).toString('base64') }))
      } else if (peer.nonce === 'huge') streamHuge(outgoing, '{"nonce":"', peer.hugeBytes, stats, peer.declareLength)
      else if (peer.nonce === 'slow') streamSlow(outgoing, '{"nonce":"', stats)
      else redirect(outgoing, `${recorder.url}/nonce`)
      return
    }
    if (path === '/sync') {
      const stats = peer.stats.sync
      stats.requests++
      if (peer.sync === 'huge') streamHuge(outgoing, '{"sender_tee_pubkey":"', peer.hugeBytes, stats, peer.declareLength)
      else if (peer.sync === 'slow') streamSlow(outgoing, '{"sender_tee_pubkey":"', stats)
      else if (peer.sync === 'redirect') redirect(outgoing, `${recorder.url}/sync`)
      else outgoing.writeHead(503, { 'content-type': 'application/json' }).end('{"code":"service_unavailable","message":"no"}')
      return
    }
    if (path === '/status') {
      const stats = peer.stats.status
      stats.requests++
      if (peer.status === 'huge') streamHuge(outgoing, '{"node":"', peer.hugeBytes, stats, peer.declareLength)
      else if (peer.status === 'redirect') redirect(outgoing, `${recorder.url}/status`)
      else outgoing.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      return
    }
    outgoing.writeHead(404).end()
  }
  server = createServer(handle)
  peer.url = await listen(server)
  return peer
}
