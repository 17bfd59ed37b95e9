/**
 * The Node bootstrap (`node dist/kms.mjs`): serves the worker over HTTP with
 * `@hono/node-server` and drives its ticks with a timer (DESIGN §3). Configuration comes
 * from the environment; an invalid value exits non-zero, naming the variable (§11).
 */
import { serve } from '@hono/node-server'
import { defaultNodeProvider } from '../functions'
import type { ModuleWorker } from '../functions'

/** Headers of at least 32 KiB must fit, so that an attestation document does (§3.2.2). */
const MAX_HEADER_BYTES = 64 * 1024
const TICK_CHECK_MS = 1000

/** Serves `worker` with the process environment as its `env`. */
export async function startNodeServer(worker: ModuleWorker): Promise<void> {
  const env = process.env as Record<string, string | undefined>
  let node
  try {
    node = await defaultNodeProvider(env)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
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
