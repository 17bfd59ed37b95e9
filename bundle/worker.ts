/**
 * The one entry point of `dist/kms.mjs` (DESIGN §3): the module worker that Miniflare loads
 * and the Node bootstrap serves. Every function of `functions/`, with the scheduled tick;
 * the node is created on the first request or tick, never at import time.
 */
import { ALL_FUNCTIONS, serve, type ModuleWorker } from '../functions'

const worker = serve(ALL_FUNCTIONS)

export default worker satisfies ModuleWorker

/**
 * `node dist/kms.mjs` (or `dist/kms-test.mjs`) serves HTTP; importing the file (Miniflare, tests) does not. workerd
 * with `nodejs_compat` has `process` too, so Node is told apart by its missing
 * `navigator.userAgent` of `Cloudflare-Workers` (DESIGN §4).
 */
function isNodeEntryPoint(): boolean {
  const userAgent = (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent
  if (userAgent === 'Cloudflare-Workers') return false
  const entry = typeof process === 'undefined' ? undefined : process.argv?.[1]
  // dist/kms.mjs, or the test build dist/kms-test.mjs (PROTOCOL §10.3).
  return entry !== undefined && /(^|[\\/])kms(-test)?\.mjs$/.test(entry)
}

if (isNodeEntryPoint()) {
  void import('./node').then(({ startNodeServer }) => startNodeServer(worker))
}
