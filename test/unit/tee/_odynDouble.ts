/**
 * A tiny in-process Odyn (PROTOCOL §10.1) over any `Tee`, for tests: itty-router routes the
 * wire calls to the local stand-in, so the Odyn client can be run against the same shared
 * spec as the stand-in itself (STYLE "One shared spec runs against both implementations").
 * Like Odyn, it answers failures with a text body: 400 for a refused envelope or a bad
 * request, 500 for anything else.
 */
import { Router, StatusError, json } from 'itty-router'
import type { FetchFunction, Tee } from '../../../core/tee'
import { bytesToHex, parseBase64, parseHex, type JsonValue } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'

type Body = Readonly<Record<string, unknown>>

async function readBody(request: Request): Promise<Body> {
  const parsed: unknown = await request.json().catch(() => undefined)
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new StatusError(400, 'invalid JSON')
  return parsed as Body
}

function text(body: Body, field: string): string {
  const value = body[field]
  if (typeof value !== 'string') throw new StatusError(400, `missing ${field}`)
  return value
}

function hexField(body: Body, field: string): Uint8Array {
  const bytes = parseHex(text(body, field))
  if (bytes === undefined) throw new StatusError(400, `invalid hex in ${field}`)
  return bytes
}

function quantity(body: Body, field: string): bigint {
  const value = text(body, field)
  if (!/^0x[0-9a-f]+$/.test(value)) throw new StatusError(400, `invalid quantity in ${field}`)
  return BigInt(value)
}

function pemBody(pem: string): Uint8Array {
  const match = /^-----BEGIN PUBLIC KEY-----\n([A-Za-z0-9+/=\n]+)-----END PUBLIC KEY-----\n$/.exec(pem)
  const der = match === null ? undefined : parseBase64(match[1]!.replace(/\n/g, ''))
  if (der === undefined) throw new StatusError(400, 'invalid public_key PEM')
  return der
}

function failure(error: unknown): Response {
  if (error instanceof StatusError) return new Response(error.message, { status: error.status })
  if (error instanceof KmsError && error.code === 'decryption_failed') return new Response('decryption failed', { status: 400 })
  return new Response('internal error', { status: 500 })
}

/** @returns a `fetch` that serves Odyn's API from `tee`. */
export function createOdynDouble(tee: Tee): FetchFunction {
  const router = Router({ catch: failure })
  router
    // Odyn also returns the secp256k1 `public_key`; the Tee interface does not expose it.
    .get('/v1/eth/address', async () => json({ address: await tee.getWallet() }))
    .post('/v1/eth/sign', async (request) => {
      const body = await readBody(request)
      const signature = await tee.signMessage(text(body, 'message'))
      return json({ signature, address: await tee.getWallet(), attestation: null })
    })
    .post('/v1/eth/sign-tx', async (request) => {
      const payload = (await readBody(request))['payload']
      if (typeof payload !== 'object' || payload === null) throw new StatusError(400, 'missing payload')
      const fields = payload as Body
      if (fields['kind'] !== 'structured') throw new StatusError(400, 'unsupported payload kind')
      const raw = await tee.signTransaction({
        chainId: Number(quantity(fields, 'chain_id')),
        nonce: Number(quantity(fields, 'nonce')),
        maxPriorityFeePerGas: quantity(fields, 'max_priority_fee_per_gas'),
        maxFeePerGas: quantity(fields, 'max_fee_per_gas'),
        gas: quantity(fields, 'gas_limit'),
        to: text(fields, 'to') as `0x${string}`,
        value: quantity(fields, 'value'),
        data: text(fields, 'data') as `0x${string}`,
      })
      return json({ raw_transaction: raw, transaction_hash: null, signature: null, address: await tee.getWallet(), attestation: null })
    })
    .get('/v1/random', async () => json({ random_bytes: `0x${bytesToHex(await tee.randomBytes())}` }))
    .get('/v1/encryption/public_key', async () =>
      json({ public_key_der: `0x${bytesToHex(await tee.getEncryptionPublicKey())}`, public_key_pem: null }),
    )
    .post('/v1/encryption/encrypt', async (request) => {
      const body = await readBody(request)
      const sealed = await tee.encrypt(text(body, 'plaintext'), hexField(body, 'client_public_key'))
      return json({
        encrypted_data: bytesToHex(sealed.encryptedData),
        enclave_public_key: bytesToHex(sealed.senderPublicKeyDer),
        nonce: bytesToHex(sealed.nonce),
      })
    })
    .post('/v1/encryption/decrypt', async (request) => {
      const body = await readBody(request)
      const plaintext = await tee.decrypt({
        nonce: hexField(body, 'nonce'),
        senderPublicKeyDer: hexField(body, 'client_public_key'),
        encryptedData: hexField(body, 'encrypted_data'),
      })
      return json({ plaintext })
    })
    .post('/v1/attestation', async (request) => {
      const body = await readBody(request)
      const nonce = parseBase64(text(body, 'nonce'))
      if (nonce === undefined) throw new StatusError(400, 'invalid nonce')
      const userData = body['user_data']
      const document = await tee.getAttestation({
        nonce,
        ...(body['public_key'] === undefined ? {} : { publicKeyDer: pemBody(text(body, 'public_key')) }),
        ...(userData === undefined ? {} : { userData: userData as Readonly<Record<string, JsonValue>> }),
      })
      return new Response(document as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/cbor' } })
    })
    .all('*', () => new Response('not found', { status: 404 }))
  return (url, init) => router.fetch(new Request(url, init))
}
