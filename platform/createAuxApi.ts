/**
 * The Aux API for sidecars (RUNTIME.md §2), on the primary port + 1: only the address, an
 * attestation without a caller-chosen `public_key`, and the encryption public key. It sends
 * CORS headers, so that a browser page can fetch an attestation.
 */
import type { Hono } from 'hono'
import { cors } from 'hono/cors'
import type { AppInstance } from './app/appInstance'
import { createBaseApi } from './createRuntimeApi'
import { attestationHandler } from './routes/attestation'
import { encryptionPublicKey } from './routes/encryption'
import { ethAddress } from './routes/eth'

export function createAuxApi(instance: AppInstance): Hono {
  const app = createBaseApi()
  app.use('*', cors({ origin: '*', allowMethods: ['GET', 'POST', 'OPTIONS'], allowHeaders: ['content-type'] }))
  app.get('/v1/eth/address', (c) => c.json(ethAddress(instance)))
  // RUNTIME.md §2: `public_key` is stripped, so a sidecar cannot bind a key of its choice.
  app.post('/v1/attestation', attestationHandler(instance, { allowPublicKey: false }))
  app.get('/v1/encryption/public_key', (c) => c.json(encryptionPublicKey(instance)))
  return app
}
