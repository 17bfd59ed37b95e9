/**
 * The one entry point of `dist/kms.mjs` (DESIGN §3): `fetch` and `scheduled` for workerd
 * (Miniflare) and for the Node bootstrap. The memoized `KmsNode` is the only module-level
 * state; it is created on the first request or tick, never at import time.
 */
import { KmsError } from '../core/errors'
import { KmsNode } from '../core/node'
import { createApp } from './app'
import { runDueTicks } from './ticks'
import { systemClock, timerSleep, webCryptoRandom } from './runtime'
import { createLogger } from './logger'
import { PACKAGE_VERSION } from './version'

export type Env = Record<string, unknown>

let nodePromise: Promise<KmsNode> | undefined

/**
 * The node for this isolate. A configuration error fails this call (500, naming the
 * variable) without creating a node, so the next call tries again (§11).
 */
export function getNode(env: Env): Promise<KmsNode> {
  nodePromise ??= KmsNode.create({
    env,
    clock: systemClock,
    random: webCryptoRandom,
    sleep: timerSleep,
    fetch: (input, init) => globalThis.fetch(input, init),
    log: createLogger(typeof env['LOG_LEVEL'] === 'string' ? env['LOG_LEVEL'] : 'INFO'),
    version: PACKAGE_VERSION,
  }).catch((error: unknown) => {
    nodePromise = undefined
    throw error
  })
  return nodePromise
}

const app = createApp((env) => getNode((env ?? {}) as Env))

interface ScheduledEvent {
  cron?: string
}

interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

export default {
  fetch(request: Request, env: Env, context?: ExecutionContext): Response | Promise<Response> {
    return app.fetch(request, env, context as never)
  },
  /**
   * Runs due ticks. A cron of `node_tick` or `sync_tick` forces that tick, which is how
   * tests drive a node deterministically (DESIGN §3).
   */
  async scheduled(event: ScheduledEvent, env: Env): Promise<void> {
    const node = await getNode(env)
    await runDueTicks(node, event.cron === 'node_tick' || event.cron === 'sync_tick' ? event.cron : undefined)
  },
}

export { KmsError }

/**
 * `node dist/kms.mjs` serves HTTP; importing the file (Miniflare, tests) does not. workerd
 * with `nodejs_compat` has `process` too, so Node is told apart by its missing
 * `navigator.userAgent` of `Cloudflare-Workers` (DESIGN §4).
 */
function isNodeEntryPoint(): boolean {
  const userAgent = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent
  if (userAgent === 'Cloudflare-Workers') return false
  const entry = typeof process === 'undefined' ? undefined : process.argv?.[1]
  return entry !== undefined && /(^|[\\/])kms\.mjs$/.test(entry)
}

if (isNodeEntryPoint()) {
  void import('./node').then(({ startNodeServer }) => startNodeServer())
}
