/**
 * The Node bootstrap (`node dist/kms.mjs`): serves the worker over HTTP with
 * `@hono/node-server` and drives its ticks with a timer (DESIGN §3). Configuration comes
 * from the environment; an invalid value exits non-zero, naming the variable (§11).
 *
 * Two things only a process has, both here and nowhere else:
 * - the outbound proxy (RUNTIME.md §3): inside the enclave every outbound connection goes
 *   through the runtime's egress proxy, named by `http_proxy` / `https_proxy`, which Node's
 *   fetch ignores. undici's `EnvHttpProxyAgent`, set as the global dispatcher, makes every
 *   `fetch` of the process (peers, probes, a non-loopback chain RPC) honour them;
 * - graceful shutdown: SIGTERM or SIGINT stops the ticks and the listener, lets the requests
 *   in flight finish (at most {@link SHUTDOWN_GRACE_MS}), then exits 0.
 *
 * It also starts the secp256k1 worker threads (`KMS_NODE_CRYPTO_WORKERS`, bundle/signaturePool.ts),
 * which run this same file: in such a thread `startNodeServer` serves signature jobs, not HTTP.
 *
 * workerd never runs this file (`bundle/worker.ts` imports it only under Node), and undici
 * is imported dynamically, only when a proxy is set, so its code never runs in workerd.
 */
import type { ServerResponse } from 'node:http'
import { serve, type HttpBindings } from '@hono/node-server'
import { useNativeAesGcm } from '../core/crypto'
import { defaultNodeProvider } from '../functions'
import type { ModuleWorker } from '../functions'
import { useBodySource } from '../functions/_http'
import { createIncomingBodySource } from './incomingBodySource'
import { createNodeAesGcm } from './nativeAesGcm'
import { createSignaturePool, cryptoWorkerCount, serveSignatureJobs, SIGNATURE_WORKER_DATA, type SignaturePool } from './signaturePool'

/** Headers of at least 32 KiB must fit, so that an attestation document does (§3.2.2). */
const MAX_HEADER_BYTES = 64 * 1024
/**
 * How often the timer asks whether a tick is due (a clock read when none is). Well under the
 * 1 s minimum interval, so a tick runs within 250 ms of being due, not up to a second late.
 */
const TICK_CHECK_MS = 250
/** How long a shutdown waits for the requests in flight and the running tick. */
export const SHUTDOWN_GRACE_MS = 10_000

/**
 * Hosts that are never proxied, whatever `no_proxy` says or omits. Odyn (127.0.0.1:18000)
 * and Helios (127.0.0.1:18545) live on the enclave's own loopback; the egress proxy forwards
 * to the host's network, which the host controls (README "Threat model"). A loopback request
 * sent there would reach the host's 127.0.0.1, not the enclave's, and the host could answer
 * as Odyn or as Helios. The runtime sets `no_proxy=localhost,127.0.0.1`, but a missing or
 * overridden `no_proxy` must not change where these requests go. IPv6 is written in
 * brackets, as undici compares the URL's host (`[::1]`); a bare `::1` would be read as host
 * `:` port 1.
 */
export const ALWAYS_DIRECT_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '[::1]']

export interface OutboundProxySettings {
  /** The proxy for http targets (`http_proxy`, else `HTTP_PROXY`). */
  httpProxy: string | undefined
  /** The proxy for https targets (`https_proxy`, else `HTTPS_PROXY`); undici falls back to `httpProxy`. */
  httpsProxy: string | undefined
  /** `no_proxy` (else `NO_PROXY`) with {@link ALWAYS_DIRECT_HOSTS} added, comma-separated. */
  noProxy: string
}

function variable(env: Readonly<Record<string, string | undefined>>, lowerCaseName: string): { name: string; value: string } | undefined {
  for (const name of [lowerCaseName, lowerCaseName.toUpperCase()]) {
    const value = env[name]?.trim()
    if (value !== undefined && value !== '') return { name, value }
  }
  return undefined
}

function proxyUrl(entry: { name: string; value: string } | undefined): string | undefined {
  if (entry === undefined) return undefined
  let url: URL
  try {
    url = new URL(entry.value)
  } catch {
    throw new Error(`${entry.name} must be an http(s) URL such as http://127.0.0.1:10000`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`${entry.name} must be an http(s) URL such as http://127.0.0.1:10000`)
  return entry.value
}

/**
 * The outbound proxy that `env` asks for: the lower-case variables first, then the upper-case
 * ones, as curl reads them. Undefined when no proxy is set, or when `no_proxy` is `*` (nothing
 * is proxied): the process then keeps Node's own dispatcher.
 * @throws Error naming the variable, when a proxy is not an http(s) URL.
 */
export function outboundProxySettings(env: Readonly<Record<string, string | undefined>>): OutboundProxySettings | undefined {
  const httpProxy = proxyUrl(variable(env, 'http_proxy'))
  const httpsProxy = proxyUrl(variable(env, 'https_proxy'))
  if (httpProxy === undefined && httpsProxy === undefined) return undefined
  const listed = (variable(env, 'no_proxy')?.value ?? '').split(/[,\s]+/).filter((entry) => entry !== '')
  if (listed.includes('*')) return undefined
  const noProxy = [...new Set([...listed, ...ALWAYS_DIRECT_HOSTS])].join(',')
  return { httpProxy, httpsProxy, noProxy }
}

/** A proxy URL for the log: its origin, never its credentials. */
function printable(url: string | undefined): string | null {
  return url === undefined ? null : new URL(url).origin
}

/**
 * Sets undici's `EnvHttpProxyAgent` as the process's global dispatcher, which Node's built-in
 * `fetch` (undici inside) uses for every request.
 */
async function installOutboundProxy(settings: OutboundProxySettings): Promise<void> {
  // undici is CommonJS: bundled into this ES module, its `require('node:…')` calls go
  // through esbuild's shim, which needs a `require` in scope. Node gives none to an ES
  // module, so this process (never workerd) gets one before undici loads.
  const scope = globalThis as { require?: unknown }
  scope.require ??= process.getBuiltinModule('node:module').createRequire(import.meta.url)
  const { EnvHttpProxyAgent, setGlobalDispatcher } = await import('undici')
  setGlobalDispatcher(new EnvHttpProxyAgent(settings))
}

/**
 * Serves `worker` with the process environment as its `env`; in a signature worker thread of
 * this file (bundle/signaturePool.ts), serves signature jobs instead.
 */
export async function startNodeServer(worker: ModuleWorker): Promise<void> {
  const threads = process.getBuiltinModule('node:worker_threads')
  if (!threads.isMainThread) {
    if (threads.workerData === SIGNATURE_WORKER_DATA && threads.parentPort !== null) serveSignatureJobs(threads.parentPort)
    return
  }
  const env = process.env as Record<string, string | undefined>
  // Before any key is imported: every AES-GCM key of this node uses OpenSSL directly.
  useNativeAesGcm(createNodeAesGcm())
  const bodies = createIncomingBodySource()
  useBodySource(bodies.source)
  let node
  let proxy
  let signatures: SignaturePool | undefined
  try {
    proxy = outboundProxySettings(env)
    if (proxy !== undefined) await installOutboundProxy(proxy)
    const workers = cryptoWorkerCount(env['KMS_NODE_CRYPTO_WORKERS'], process.getBuiltinModule('node:os').availableParallelism())
    // The workers run this very file (the one bundle); the log is the node's, once it exists.
    let log: ((message: string, fields: Record<string, unknown>) => void) | undefined
    if (workers > 0) {
      signatures = createSignaturePool({
        size: workers,
        workerUrl: new URL(import.meta.url),
        onWorkerExit: (details) => log?.('signature worker exited; replacing it', { ...details }),
      })
    }
    node = await defaultNodeProvider(env, signatures === undefined ? {} : { signatures })
    const created = node
    log = (message, fields) => created.log('warn', message, fields)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
  if (proxy !== undefined) {
    node.log('info', 'outbound proxy', { http_proxy: printable(proxy.httpProxy), https_proxy: printable(proxy.httpsProxy ?? proxy.httpProxy), no_proxy: proxy.noProxy })
  }

  let draining = false
  /** Responses not yet finished, so that a shutdown can tell their clients to close. */
  const inFlight = new Set<ServerResponse>()
  let onIdle = (): void => undefined
  // @hono/node-server passes `{ incoming, outgoing }` as env, which the client limiter reads
  // for the socket address; the node itself was built from process.env just above.
  const server = serve({
    fetch: (request, nodeServerEnv) => {
      // An HTTP/1.1 server (no `createServer` option), so never the HTTP/2 bindings.
      const { incoming, outgoing } = nodeServerEnv as HttpBindings
      bodies.register(request, incoming)
      inFlight.add(outgoing)
      outgoing.once('close', () => {
        inFlight.delete(outgoing)
        if (inFlight.size === 0) onIdle()
      })
      // Once shutting down, every answer closes its connection, so no client reuses it.
      if (draining) outgoing.setHeader('connection', 'close')
      return worker.fetch(request, nodeServerEnv)
    },
    hostname: node.config.bindHost,
    port: node.config.bindPort,
    // A slow client cannot hold a connection and its buffers open for Node's default 300 s
    // (§12.3): headers and the whole request must arrive within REQUEST_TIMEOUT_SECONDS.
    serverOptions: {
      maxHeaderSize: MAX_HEADER_BYTES,
      headersTimeout: node.config.requestTimeoutSeconds * 1000,
      requestTimeout: node.config.requestTimeoutSeconds * 1000,
      // Node checks those timeouts every 30 s by default, which would let a slow request live
      // up to 30 s past its limit.
      connectionsCheckingInterval: 1000,
    },
  })
  server.on('listening', () => {
    const address = server.address()
    const port = typeof address === 'object' && address !== null ? address.port : node.config.bindPort
    node.log('info', 'listening', { host: node.config.bindHost, port, mode: node.config.mode, crypto_workers: signatures?.threads.length ?? 0 })
  })

  // No flag around the call: each tick keeps itself from overlapping (TickSchedule), and a
  // call passes over a tick still running. One flag for both would let a sync_tick stuck on a
  // hanging peer (up to its §4.1 deadlines) hold node_tick, and with it readiness, back.
  const tick = async (): Promise<void> => {
    try {
      await worker.scheduled({}, env)
    } catch (error) {
      node.log('error', 'tick failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    }
  }
  void tick()
  const timer = setInterval(() => void tick(), TICK_CHECK_MS)

  /**
   * Stops the ticks and the listener (new connections are refused), lets the requests in
   * flight finish, each answer closing its connection, then exits 0. Past SHUTDOWN_GRACE_MS,
   * whatever is left is cut and the process exits 0 all the same. A tick under way is not
   * waited for: the node's state is in memory and ends with the process either way, and a
   * tick that waits on an unreachable chain or peer would only hold up the exit.
   */
  const shutdown = (signal: NodeJS.Signals): void => {
    if (draining) return
    draining = true
    const started = performance.now()
    clearInterval(timer)
    const requests = inFlight.size
    node.log('info', 'shutting down', { signal, requests_in_flight: requests })
    for (const response of inFlight) if (!response.headersSent) response.setHeader('connection', 'close')
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()))
    // close() drops the idle keep-alive connections; a connection whose answer was already
    // under way when the signal came is idle once that answer is sent, and is dropped then.
    onIdle = () => 'closeIdleConnections' in server && server.closeIdleConnections()
    if (inFlight.size === 0) onIdle()
    const deadline = setTimeout(() => {
      node.log('warn', 'shutdown grace elapsed; closing the connections left', { requests_left: inFlight.size, grace_ms: SHUTDOWN_GRACE_MS })
      if ('closeAllConnections' in server) server.closeAllConnections()
      process.exit(0)
    }, SHUTDOWN_GRACE_MS)
    void serverClosed.then(() => {
      clearTimeout(deadline)
      node.log('info', 'stopped', { requests_in_flight_at_signal: requests, ms: Math.round(performance.now() - started) })
      process.exit(0)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}
