/**
 * The app-facing runtime API (RUNTIME.md §2) for one app instance: the routing, the 10 MiB
 * body limit and the one error handler. Runtime-neutral: `serveRuntime.ts` puts it on a port.
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { AppInstance } from './app/appInstance'
import { handleRuntimeError } from './http/handleRuntimeError'
import { appWalletRoutes } from './routes/appWallet'
import { attestationHandler } from './routes/attestation'
import { encryptionRoutes } from './routes/encryption'
import { ethRoutes } from './routes/eth'
import { kmsRoutes } from './routes/kms'
import { randomRoutes } from './routes/random'

/** RUNTIME.md §2. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024

/** The limit and the fallbacks both APIs share. */
export function createBaseApi(): Hono {
  const app = new Hono()
  app.use('*', bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.text('Request body exceeds 10 MiB', 413) }))
  app.notFound((c) => c.text(`No route ${c.req.method} ${c.req.path}`, 404))
  app.onError(handleRuntimeError)
  return app
}

export function createRuntimeApi(instance: AppInstance): Hono {
  const app = createBaseApi()
  app.post('/v1/attestation', attestationHandler(instance, { allowPublicKey: true }))
  for (const routes of [ethRoutes, randomRoutes, encryptionRoutes, kmsRoutes, appWalletRoutes]) app.route('/', routes(instance))
  return app
}
