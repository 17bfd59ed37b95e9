/** Awaits a rejection and returns the wire body of the `KmsError` it carries. */
import { KmsError } from '../../../core/errors'

export async function rejectionBody(work: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof work === 'function' ? work() : work)
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError, got a result')
}
