/**
 * The Node bootstrap (`node dist/kms.mjs`): serves the same app over HTTP with
 * `@hono/node-server` and drives the ticks with a timer (DESIGN §3). Configuration comes
 * from the environment; an invalid value exits non-zero, naming the variable (§11).
 */
import { serve } from '@hono/node-server'
import { createApp } from './app'
import { runDueTicks } from './ticks'
import { getNode } from './worker'

/** Headers of at least 32 KiB must fit, so that an attestation document does (§3.2.2). */
const MAX_HEADER_BYTES = 64 * 1024
const TICK_CHECK_MS = 1000

export async function startNodeServer(): Promise<void> {
  const env = process.env as Record<string, string | undefined>
  let node
  try {
    node = await getNode(env)
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
  const app = createApp(() => getNode(env))
  const server = serve({
    fetch: app.fetch,
    hostname: node.config.bindHost,
    port: node.config.bindPort,
    serverOptions: { maxHeaderSize: MAX_HEADER_BYTES },
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
      await runDueTicks(node)
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
