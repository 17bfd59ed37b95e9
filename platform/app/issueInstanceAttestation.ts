/**
 * `/v1/attestation` of the local runtime (RUNTIME.md §2): a document in the AWS shape signed
 * by the dev attestation chain (`issueDevAttestation`, PROTOCOL §10.3), so it verifies with
 * `verifyNitroAttestation` against `devRootCertificateDer()`, never against the AWS root.
 * PCR0..2 are zero (debug mode) unless the instance was given its own (`instancePcrs.ts`).
 */
import { canonicalJson, utf8ToBytes, type JsonValue } from '../../core/encoding'
import { issueDevAttestation } from '../../core/tee'
import { hasLoneSurrogate, readBase64, readObject, readString } from '../http/fields'
import type { JsonObject } from '../http/readJsonObject'
import { badRequest } from '../http/runtimeApiError'
import type { AppInstance } from './appInstance'
import { decodePublicKeyPem } from './publicKeyPem'

/** What the NSM accepts per optional field; the verifier bounds them the same way. */
export const ATTESTATION_FIELD_MAX_BYTES = 1024

function checkSize(field: string, length: number): void {
  if (length > ATTESTATION_FIELD_MAX_BYTES) throw badRequest(`'${field}' exceeds ${ATTESTATION_FIELD_MAX_BYTES} bytes`)
}

/**
 * Issues a document for `{"nonce"? base64, "public_key"? PEM, "user_data"? object}`.
 * `user_data` gets `app_wallet` (when this process knows the app wallet) and `eth_addr`
 * (the instance wallet); the injected values win over the caller's.
 * @param options.allowPublicKey false on the Aux API, which strips `public_key`.
 * @throws RuntimeApiError 400 for a bad field.
 */
export async function issueInstanceAttestation(instance: AppInstance, body: JsonObject, options: { allowPublicKey: boolean }): Promise<Uint8Array> {
  const nonce = body['nonce'] === undefined || body['nonce'] === null ? new Uint8Array(0) : readBase64(body, 'nonce')
  checkSize('nonce', nonce.length)
  let publicKeyDer: Uint8Array | undefined
  if (options.allowPublicKey && body['public_key'] !== undefined && body['public_key'] !== null) {
    publicKeyDer = decodePublicKeyPem(readString(body, 'public_key'))
    if (publicKeyDer === undefined) throw badRequest("'public_key' must be a PEM public key")
    checkSize('public_key', publicKeyDer.length)
  }
  const appWallet = instance.kms?.appWallet.known?.address
  const userData: Record<string, JsonValue> = {
    ...((readObject(body, 'user_data') ?? {}) as Record<string, JsonValue>),
    ...(appWallet === undefined ? {} : { app_wallet: appWallet }),
    eth_addr: instance.wallet,
  }
  let userDataJson: string
  try {
    userDataJson = canonicalJson(userData)
  } catch (error) {
    // canonicalJson's documented refusals of parsed JSON: non-integer numbers, deep nesting.
    if (error instanceof RangeError) throw badRequest("'user_data' may hold only strings, integers, booleans, null, arrays and objects (nesting up to 64)")
    throw error
  }
  if (hasLoneSurrogate(userDataJson)) throw badRequest("'user_data' is not valid UTF-8")
  checkSize('user_data', utf8ToBytes(userDataJson).length)
  return issueDevAttestation({
    request: { nonce, ...(publicKeyDer === undefined ? {} : { publicKeyDer }), userData },
    wallet: instance.wallet,
    teePublicKeyDer: instance.teeKey.publicKey.der,
    nowMs: instance.clock.nowMs(),
    random: instance.random,
    ...(instance.pcrs === undefined ? {} : { pcrs: instance.pcrs }),
  })
}
