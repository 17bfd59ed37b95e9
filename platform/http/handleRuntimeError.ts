/**
 * The one place that turns a thrown error into an answer (STYLE.md "Errors"). The KMS
 * client's errors follow RUNTIME.md §2: transient registry, authorization and all-nodes-down
 * failures are 503 with `Retry-After: 10`; every other KMS failure is a 400.
 */
import type { Context } from 'hono'
import { RuntimeKmsError } from '../../core/client'
import { RuntimeApiError } from './runtimeApiError'

/** RUNTIME.md §2. */
export const KMS_RETRY_AFTER_SECONDS = 10

export function handleRuntimeError(error: Error, c: Context): Response {
  if (error instanceof RuntimeApiError) return c.text(error.message, error.status, { ...error.headers })
  if (error instanceof RuntimeKmsError) {
    if (error.transient) return c.text(error.message, 503, { 'retry-after': String(KMS_RETRY_AFTER_SECONDS) })
    return c.text(error.message, 400)
  }
  // A bug, not a request we refuse: log it whole, answer without details.
  console.error(`nova-runtime: ${c.req.method} ${c.req.path} failed:`, error)
  return c.text('Internal error', 500)
}
