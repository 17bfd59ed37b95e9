/**
 * The E2E envelope on the wire (PROTOCOL §5.6): `{"sender_tee_pubkey","nonce","encrypted_data"}`
 * in lowercase hex, sealed and opened through the enclave helper. App routes, the /sync
 * server and the /sync client all use these two functions.
 *
 * @module
 */
import { isSameP384PublicKey } from './crypto'
import { bytesToHex, canonicalJson, parseHex } from './encoding'
import { KmsError } from './errors'
import type { Tee } from './tee'

export type WireEnvelope = {
  sender_tee_pubkey: string
  nonce: string
  encrypted_data: string
}

type EnvelopeShape = Record<string, unknown> & { sender_tee_pubkey: unknown; nonce: unknown; encrypted_data: unknown }

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A body is an envelope iff it is an object that has all three keys (§5.6). */
export function isEnvelope(body: unknown): body is EnvelopeShape {
  return isObject(body) && 'sender_tee_pubkey' in body && 'nonce' in body && 'encrypted_data' in body
}

/** Encrypts the canonical JSON of `inner` to `receiverDer` (§5.6 encrypt). */
export async function sealEnvelope(tee: Pick<Tee, 'encrypt'>, inner: unknown, receiverDer: Uint8Array): Promise<WireEnvelope> {
  const sealed = await tee.encrypt(canonicalJson(inner), receiverDer)
  return {
    sender_tee_pubkey: bytesToHex(sealed.senderPublicKeyDer),
    nonce: bytesToHex(sealed.nonce),
    encrypted_data: bytesToHex(sealed.encryptedData),
  }
}

/**
 * Opens an envelope that must come from `expectedSenderDer` (§5.6 decrypt steps 1–3).
 * @throws KmsError 403 `forbidden` (sender), 400 `decryption_failed`, 400 `bad_request` with
 *   `invalidPayloadMessage`, 503 when the helper is unreachable.
 */
export async function openEnvelope(params: {
  tee: Pick<Tee, 'decrypt'>
  envelope: EnvelopeShape
  expectedSenderDer: Uint8Array
  invalidPayloadMessage: string
}): Promise<Record<string, unknown>> {
  const { tee, envelope, expectedSenderDer } = params
  const sender = typeof envelope.sender_tee_pubkey === 'string' ? parseHex(envelope.sender_tee_pubkey) : undefined
  if (sender === undefined || !isSameP384PublicKey(sender, expectedSenderDer)) {
    throw new KmsError('forbidden', 'sender_tee_pubkey does not match on-chain registration')
  }
  const nonce = typeof envelope.nonce === 'string' ? parseHex(envelope.nonce) : undefined
  const encryptedData = typeof envelope.encrypted_data === 'string' ? parseHex(envelope.encrypted_data) : undefined
  if (nonce === undefined || encryptedData === undefined) throw new KmsError('decryption_failed', 'Decryption failed')
  const plaintext = await tee.decrypt({ nonce, senderPublicKeyDer: expectedSenderDer, encryptedData })
  let inner: unknown
  try {
    inner = JSON.parse(plaintext)
  } catch (error) {
    throw new KmsError('bad_request', params.invalidPayloadMessage, { cause: error })
  }
  if (!isObject(inner)) throw new KmsError('bad_request', params.invalidPayloadMessage)
  return inner
}
