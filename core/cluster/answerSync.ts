/**
 * The `/sync` dispatch (PROTOCOL §4.2 step 8, §4.3): what a node answers to an authenticated,
 * decrypted peer payload. Authentication happens before this (functions/sync.ts).
 */
import type { SealedMasterSecret } from '../crypto'
import { bytesToHex, parseHex } from '../encoding'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { CanDecrypt, KvStore } from '../store'

export interface AnswerSyncContext {
  store: Pick<KvStore, 'ingest' | 'snapshot'>
  canDecrypt: CanDecrypt
  /** The key ring's sealing of the secret to a requester's ephemeral key (§5.5). */
  sealSecretFor(requesterPublicKeyDer: Uint8Array, random: Random): Promise<SealedMasterSecret>
  random: Random
}

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/** The payload's `type`; a missing or non-string one counts as `""` (as in (c)). */
export function syncTypeOf(payload: Record<string, unknown>): string {
  return typeof payload['type'] === 'string' ? payload['type'] : ''
}

/**
 * Runs one sync request.
 * @throws KmsError 400 for an unknown type or a bad `ecdh_pubkey`.
 */
export async function answerSync(payload: Record<string, unknown>, context: AnswerSyncContext): Promise<Record<string, unknown>> {
  const type = syncTypeOf(payload)
  switch (type) {
    case 'delta': {
      const counts = await context.store.ingest(payload['data'], context.canDecrypt)
      return { status: 'ok', ...counts }
    }
    case 'snapshot_request':
      return { status: 'ok', data: context.store.snapshot() }
    case 'master_secret_request': {
      const ecdhPubkey = payload['ecdh_pubkey']
      if (typeof ecdhPubkey !== 'string' || ecdhPubkey === '') throw badRequest('Sealed ECDH pubkey required for master secret exchange')
      const requesterPublicKeyDer = parseHex(ecdhPubkey)
      if (requesterPublicKeyDer === undefined) throw badRequest('Invalid ecdh_pubkey hex')
      // Sealing refuses a key that is not a P-384 point with `Invalid peer ECDH public key`.
      const sealed = await context.sealSecretFor(requesterPublicKeyDer, context.random)
      return {
        status: 'ok',
        sealed: {
          ephemeral_pubkey: bytesToHex(sealed.ephemeralPublicKeyDer),
          encrypted_data: bytesToHex(sealed.encryptedData),
          nonce: bytesToHex(sealed.nonce),
        },
      }
    }
    default:
      throw badRequest(`Unknown sync type: ${type}`)
  }
}
