/** `POST /v1/attestation` (RUNTIME.md §2): the raw CBOR document. */
import type { Context } from 'hono'
import type { AppInstance } from '../app/appInstance'
import { issueInstanceAttestation } from '../app/issueInstanceAttestation'
import { readJsonObject } from '../http/readJsonObject'

/** `allowPublicKey` is false on the Aux API, which strips `public_key` (RUNTIME.md §2). */
export function attestationHandler(instance: AppInstance, options: { allowPublicKey: boolean }) {
  return async (c: Context): Promise<Response> => {
    const document = await issueInstanceAttestation(instance, await readJsonObject(c), options)
    return c.body(document.slice().buffer, 200, { 'content-type': 'application/cbor' })
  }
}
