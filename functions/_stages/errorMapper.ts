/**
 * The one error mapper (PROTOCOL §0, §12.4): a `KmsError` becomes its status and the
 * `{"code","message"}` body with its headers. Anything else is a bug: it is logged with the
 * request id and answered as a generic 500, so nothing internal reaches the wire.
 * Configuration errors are `KmsError`s of status 500 that name their variable (§11).
 */
import type { Context } from 'hono'
import { KmsError } from '../../core/errors'
import type { PipelineEnv } from './_env'

export function errorResponse(error: KmsError): Response {
  return new Response(JSON.stringify(error.toBody()), {
    status: error.status,
    headers: { 'content-type': 'application/json', ...error.headers },
  })
}

export function mapError(error: Error, c: Context<PipelineEnv>): Response {
  if (error instanceof KmsError && error.status !== 500) return errorResponse(error)
  const node = c.get('node') as PipelineEnv['Variables']['node'] | undefined
  const fields = { requestId: c.get('requestId'), error: error.stack ?? error.message }
  if (node !== undefined) node.log('error', 'unhandled error', fields)
  else console.error('unhandled error', fields)
  return errorResponse(error instanceof KmsError ? error : new KmsError('internal_error', 'Internal server error'))
}
