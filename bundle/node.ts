/**
 * The Node bootstrap (`node dist/kms.mjs`): serves the worker over HTTP with
 * `@hono/node-server` and drives its ticks with a timer (DESIGN §3). Configuration comes
 * from the environment; an invalid value exits non-zero, naming the variable (§11).
 *
 * The outbound proxy (RUNTIME.md §3) is set here and nowhere else: inside the enclave every
 * outbound connection goes through the runtime's egress proxy, named by `http_proxy` /
 * `https_proxy`, which Node's fetch ignores. undici's `EnvHttpProxyAgent`, set as the global
 * dispatcher, makes every `fetch` of the process (peers, probes, a non-loopback chain RPC)
 * honour them.
 *
 * workerd never runs this file (`bundle/worker.ts` imports it only under Node), and undici
 * is imported dynamically, only when a proxy is set, so its code never runs in workerd.
 */
import { serve } from '@hono/node-server'
import { defaultNodeProvider } from '../functions'
import type { ModuleWorker } from '../functions'

/** Headers of at least 32 KiB must fit, so that an attestation document does (§3.2.2). */
const MAX_HEADER_BYTES = 64 * 1024
const TICK_CHECK_MS = 1000

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

/** Serves `worker` with the process environment as its `env`. */
export async function startNodeServer(worker: ModuleWorker): Promise<void> {
  const env = process.env as Record<string, string | undefined>
  let node
  let proxy
  try {
    proxy = outboundProxySettings(env)
    if (proxy !== undefined) await installOutboundProxy(proxy)
    node = await defaultNodeProvider(env)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
  if (proxy !== undefined) {
    node.log('info', 'outbound proxy', { http_proxy: printable(proxy.httpProxy), https_proxy: printable(proxy.httpsProxy ?? proxy.httpProxy), no_proxy: proxy.noProxy })
  }

  // @hono/node-server passes `{ incoming, outgoing }` as env, which the client limiter reads
  // for the socket address; the node itself was built from process.env just above.
  const server = serve({
    fetch: (request, nodeServerEnv) => worker.fetch(request, nodeServerEnv),
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
    node.log('info', 'listening', { host: node.config.bindHost, port, mode: node.config.mode })
  })

  let ticking = false
  const tick = async (): Promise<void> => {
    if (ticking) return
    ticking = true
    try {
      await worker.scheduled({}, env)
    } catch (error) {
      node.log('error', 'tick failed', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
    } finally {
      ticking = false
    }
  }
  void tick()
  const timer = setInterval(() => void tick(), TICK_CHECK_MS)
  const stop = (): void => {
    clearInterval(timer)
    server.close(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}
