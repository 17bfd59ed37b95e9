/**
 * Puts both APIs on their ports with `@hono/node-server` (Node only), and keeps the KMS
 * node directory fresh in the background (RUNTIME.md §1: every 20 s).
 */
import { createAdaptorServer } from '@hono/node-server'
import type { Server } from 'node:http'
import { BACKGROUND_REFRESH_MS } from '../core/client'
import type { AppInstance } from './app/appInstance'
import { createAuxApi } from './createAuxApi'
import { createRuntimeApi } from './createRuntimeApi'

export interface RunningRuntime {
  apiUrl: string
  auxUrl: string
  close(): Promise<void>
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve()
    server.close(() => resolve())
    // Keep-alive connections would hold close() open; the runtime is going away.
    server.closeAllConnections()
  })
}

/**
 * Listens on `host:port` (API) and `host:port+1` (Aux).
 * @throws the listen error (e.g. EADDRINUSE), after closing whatever did start.
 */
export async function serveRuntime(instance: AppInstance, { host, port }: { host: string; port: number }): Promise<RunningRuntime> {
  const api = createAdaptorServer({ fetch: createRuntimeApi(instance).fetch }) as Server
  const aux = createAdaptorServer({ fetch: createAuxApi(instance).fetch }) as Server
  const close = async (): Promise<void> => {
    clearInterval(refresh)
    await Promise.all([closeServer(api), closeServer(aux)])
  }
  const refresh = setInterval(() => {
    instance.kms?.directory.refresh().catch((error: unknown) => {
      console.error(`nova-runtime: background KMS node refresh failed: ${error instanceof Error ? error.message : String(error)}`)
    })
  }, BACKGROUND_REFRESH_MS)
  refresh.unref()
  try {
    await listen(api, port, host)
    await listen(aux, port + 1, host)
  } catch (error) {
    await close()
    throw error
  }
  return { apiUrl: `http://${host}:${port}`, auxUrl: `http://${host}:${port + 1}`, close }
}
