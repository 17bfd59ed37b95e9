/**
 * `/v1/encryption/*` (RUNTIME.md §2): envelope cipher v1 (PROTOCOL §10.2) with the app's
 * P-384 key and the current runtime's label.
 */
import { Hono } from 'hono'
import { RUNTIME_ENVELOPE_INFO } from '../../core/client'
import { encryptEnvelope, parseP384PublicKey, type P384PublicKey } from '../../core/crypto'
import { bytesToHex } from '../../core/encoding'
import type { AppInstance } from '../app/appInstance'
import { openEnvelope } from '../app/openEnvelope'
import { encodePublicKeyPem } from '../app/publicKeyPem'
import { readHex, readString } from '../http/fields'
import type { JsonObject } from '../http/readJsonObject'
import { readJsonObject } from '../http/readJsonObject'
import { badRequest } from '../http/runtimeApiError'

const NONCE_LENGTH = 12
/** Older runtimes drew 32-byte nonces; the first 12 bytes are the nonce (RUNTIME.md §1). */
const LEGACY_NONCE_LENGTH = 32

function readClientKey(body: JsonObject): P384PublicKey {
  const key = parseP384PublicKey(readHex(body, 'client_public_key'))
  if (key === undefined) throw badRequest("'client_public_key' must be a P-384 public key (DER SPKI or SEC1 uncompressed)")
  return key
}

function readNonce(body: JsonObject): Uint8Array {
  const nonce = readHex(body, 'nonce')
  if (nonce.length === NONCE_LENGTH) return nonce
  if (nonce.length === LEGACY_NONCE_LENGTH) return nonce.slice(0, NONCE_LENGTH)
  throw badRequest(`'nonce' must be ${NONCE_LENGTH} bytes (or a legacy ${LEGACY_NONCE_LENGTH}), got ${nonce.length}`)
}

/** `GET /v1/encryption/public_key`. */
export function encryptionPublicKey(instance: AppInstance): { public_key_der: string; public_key_pem: string } {
  const der = instance.teeKey.publicKey.der
  return { public_key_der: `0x${bytesToHex(der)}`, public_key_pem: encodePublicKeyPem(der) }
}

export function encryptionRoutes(instance: AppInstance): Hono {
  return new Hono()
    .get('/v1/encryption/public_key', (c) => c.json(encryptionPublicKey(instance)))
    .post('/v1/encryption/encrypt', async (c) => {
      const body = await readJsonObject(c)
      const plaintext = readString(body, 'plaintext')
      const peerPublicKey = readClientKey(body)
      const nonce = instance.random.bytes(NONCE_LENGTH)
      const ciphertext = await encryptEnvelope({ privateKey: instance.teeKey, peerPublicKey, nonce, plaintext, info: RUNTIME_ENVELOPE_INFO })
      // Raw hex without 0x, as the runtime answers.
      return c.json({ encrypted_data: bytesToHex(ciphertext), enclave_public_key: bytesToHex(instance.teeKey.publicKey.der), nonce: bytesToHex(nonce) })
    })
    .post('/v1/encryption/decrypt', async (c) => {
      const body = await readJsonObject(c)
      const nonce = readNonce(body)
      const peerPublicKey = readClientKey(body)
      const ciphertext = readHex(body, 'encrypted_data')
      const plaintext = await openEnvelope({ privateKey: instance.teeKey, peerPublicKey, nonce, ciphertext })
      // PROTOCOL §10.2: a pair is recorded once accepted, so a forged envelope burns nothing.
      if (!instance.decryptReplays.remember(peerPublicKey.der, nonce)) throw badRequest('Nonce already used with this client key')
      return c.json({ plaintext })
    })
}
