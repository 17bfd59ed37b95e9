/**
 * The real clock, randomness, sleep, log writer and version that a node gets when nothing
 * else is injected (DESIGN §3). These are the only places that read the wall clock or a
 * random source; `core/` gets them by injection.
 */
import type { Sleep } from '../core/cluster'
import type { LogWriter } from '../core/log'
import type { Clock, Random } from '../core/runtime'

export const systemClock: Clock = { nowMs: () => Date.now() }

export const webCryptoRandom: Random = {
  bytes(length) {
    const out = new Uint8Array(length)
    // getRandomValues fills at most 65536 bytes per call.
    for (let offset = 0; offset < length; offset += 65_536) {
      globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65_536)))
    }
    return out
  },
}

export const timerSleep: Sleep = (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds))

/** One JSON object per line: warnings and errors to stderr, the rest to stdout. */
export const consoleLogWriter: LogWriter = (level, message, fields) => {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...fields })
  if (level === 'error' || level === 'warn') console.error(line)
  else console.log(line)
}

/** The package version, injected by esbuild's `define` (see esbuild.config.ts). */
declare const __NOVA_KMS_VERSION__: string | undefined

export const PACKAGE_VERSION: string = typeof __NOVA_KMS_VERSION__ === 'string' ? __NOVA_KMS_VERSION__ : '0.0.0-dev'

/** True only in dist/kms-test.mjs, by esbuild's `define` (esbuild.config.ts); false everywhere else. */
declare const __NOVA_KMS_TEST_BUILD__: boolean | undefined

/**
 * The test build (PROTOCOL §4.5): enclave mode trusts the dev attestation root and refuses
 * to serve under the AWS root. No variable can turn it on.
 */
export const TEST_BUILD: boolean = typeof __NOVA_KMS_TEST_BUILD__ === 'boolean' && __NOVA_KMS_TEST_BUILD__

/**
 * Whether work may outlive the request that started it. In Node it may; in workerd a promise
 * whose I/O began in one request cannot be awaited by another, and is cancelled once its
 * request has answered (without `ctx.waitUntil`). The node then reloads registry entries
 * only when they expire, on the request path. workerd identifies itself by its user agent
 * (WinterCG's runtime keys); Node 20 has no `navigator`.
 */
export function runtimeAllowsBackgroundWork(): boolean {
  const agent = (globalThis as { navigator?: { userAgent?: unknown } }).navigator?.userAgent
  return agent !== 'Cloudflare-Workers'
}
