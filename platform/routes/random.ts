/** `GET /v1/random` (RUNTIME.md §2): 32 random bytes. */
import { Hono } from 'hono'
import { bytesToHex } from '../../core/encoding'
import type { AppInstance } from '../app/appInstance'

export function randomRoutes(instance: AppInstance): Hono {
  return new Hono().get('/v1/random', (c) => c.json({ random_bytes: `0x${bytesToHex(instance.random.bytes(32))}` }))
}
