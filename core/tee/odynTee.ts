/**
 * The enclave-mode `Tee`: a client of Odyn's local HTTP API (PROTOCOL §10.1). Every call has
 * a deadline (10 s by default, §12.3). Any failure is 503 `service_unavailable`, except a
 * 400 from `/v1/encryption/decrypt`, which is Odyn refusing the envelope: 400
 * `decryption_failed` (§5.6 step 2).
 */
import { parseP384PublicKey } from '../crypto'
import { bytesToBase64, bytesToHex, parseWallet, type JsonValue, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import { OdynHttp, helperFailure, type FetchFunction, type OdynCall } from './_odynHttp'
import { readAnswer, readHex, readSignature, readString } from './_odynWire'
import { encodePublicKeyPem } from './_publicKeyPem'
import type { AttestationRequest, EncryptedForPeer, Eip1559Transaction, Tee } from './types'

export interface OdynTeeOptions {
  /** `ODYN_URL` (§11), e.g. `http://127.0.0.1:18000`. */
  baseUrl: string
  fetch: FetchFunction
  /** Deadline of each call, headers and body included. */
  timeoutMs?: number
}

/** Odyn's timeout (§10.1, §12.3). */
export const ODYN_TIMEOUT_MS = 10_000

const RAW_TRANSACTION_TEXT = /^0x(?:[0-9a-fA-F]{2})+$/

function quantity(value: number | bigint): `0x${string}` {
  return `0x${value.toString(16)}`
}

function decryptionFailed(details: string): KmsError {
  return new KmsError('decryption_failed', 'Decryption failed', { details })
}

/**
 * Creates the Odyn client. No I/O happens until a method is called.
 * @example
 * const tee = createOdynTee({ baseUrl: config.odynUrl, fetch: (url, init) => fetch(url, init) })
 */
export function createOdynTee({ baseUrl, fetch, timeoutMs = ODYN_TIMEOUT_MS }: OdynTeeOptions): Tee {
  const http = new OdynHttp({ baseUrl, fetch, timeoutMs })

  async function answer(call: OdynCall, rejected?: (status: number) => KmsError | undefined) {
    return readAnswer(call, await http.json(call, rejected))
  }

  return {
    async getWallet(): Promise<Wallet> {
      const call: OdynCall = { method: 'GET', path: '/v1/eth/address' }
      const wallet = parseWallet(readString(call, await answer(call), 'address'))
      if (wallet === undefined) throw helperFailure(call, "malformed response: field 'address' is not a wallet")
      return wallet
    },

    async signMessage(message: string): Promise<`0x${string}`> {
      // Odyn adds the EIP-191 prefix itself. Its v may be 0/1 or 27/28 (§10.1); the answer is
      // normalised to 0/1, which is what the runtime's KMS client accepts (RUNTIME.md §1).
      const call: OdynCall = { method: 'POST', path: '/v1/eth/sign', body: { message, include_attestation: false } }
      return readSignature(call, await answer(call), 'signature')
    },

    async signTransaction(transaction: Eip1559Transaction): Promise<`0x${string}`> {
      const payload: JsonValue = {
        kind: 'structured',
        chain_id: quantity(transaction.chainId),
        nonce: quantity(transaction.nonce),
        max_priority_fee_per_gas: quantity(transaction.maxPriorityFeePerGas),
        max_fee_per_gas: quantity(transaction.maxFeePerGas),
        gas_limit: quantity(transaction.gas),
        to: transaction.to,
        value: quantity(transaction.value),
        data: transaction.data,
      }
      const call: OdynCall = { method: 'POST', path: '/v1/eth/sign-tx', body: { payload, include_attestation: false } }
      const raw = readString(call, await answer(call), 'raw_transaction')
      if (!RAW_TRANSACTION_TEXT.test(raw)) throw helperFailure(call, "malformed response: field 'raw_transaction' is not hex")
      return `0x${raw.slice(2).toLowerCase()}`
    },

    async randomBytes(): Promise<Uint8Array> {
      const call: OdynCall = { method: 'GET', path: '/v1/random' }
      return readHex(call, await answer(call), 'random_bytes', 32)
    },

    async getEncryptionPublicKey(): Promise<Uint8Array> {
      const call: OdynCall = { method: 'GET', path: '/v1/encryption/public_key' }
      const key = parseP384PublicKey(readHex(call, await answer(call), 'public_key_der', { min: 1 }))
      if (key === undefined) throw helperFailure(call, "malformed response: field 'public_key_der' is not a P-384 key")
      return key.der
    },

    async encrypt(plaintext: string, receiverPublicKeyDer: Uint8Array): Promise<EncryptedForPeer> {
      const receiver = parseP384PublicKey(receiverPublicKeyDer)
      if (receiver === undefined) throw new RangeError('receiverPublicKeyDer: expected a P-384 public key')
      const call: OdynCall = {
        method: 'POST',
        path: '/v1/encryption/encrypt',
        body: { plaintext, client_public_key: `0x${bytesToHex(receiver.der)}` },
      }
      const fields = await answer(call)
      const sender = parseP384PublicKey(readHex(call, fields, 'enclave_public_key', { min: 1 }))
      if (sender === undefined) throw helperFailure(call, "malformed response: field 'enclave_public_key' is not a P-384 key")
      return {
        encryptedData: readHex(call, fields, 'encrypted_data', { min: 16 }),
        senderPublicKeyDer: sender.der,
        nonce: readHex(call, fields, 'nonce', 12),
      }
    },

    async decrypt({ nonce, senderPublicKeyDer, encryptedData }): Promise<string> {
      // Checked here too, so both Tee implementations refuse the same inputs the same way.
      const sender = parseP384PublicKey(senderPublicKeyDer)
      if (sender === undefined) throw decryptionFailed('envelope sender key is not a P-384 key')
      if (nonce.length !== 12) throw decryptionFailed('envelope nonce is not 12 bytes')
      const call: OdynCall = {
        method: 'POST',
        path: '/v1/encryption/decrypt',
        body: {
          nonce: `0x${bytesToHex(nonce)}`,
          client_public_key: `0x${bytesToHex(sender.der)}`,
          encrypted_data: `0x${bytesToHex(encryptedData)}`,
        },
      }
      // Odyn answers 400 for bad hex, nonce length, reuse, tag or UTF-8 (§10.1).
      const fields = await answer(call, (status) => (status === 400 ? decryptionFailed('Odyn refused the envelope') : undefined))
      return readString(call, fields, 'plaintext')
    },

    async getAttestation(request: AttestationRequest): Promise<Uint8Array> {
      // Odyn decodes only standard padded base64 (§2.9) and takes the key as PEM (§10.1).
      const body: Record<string, JsonValue> = { nonce: bytesToBase64(request.nonce) }
      if (request.publicKeyDer !== undefined) body['public_key'] = encodePublicKeyPem(request.publicKeyDer)
      if (request.userData !== undefined) body['user_data'] = request.userData
      const call: OdynCall = { method: 'POST', path: '/v1/attestation', body }
      const document = await http.bytes(call)
      if (document.length === 0) throw helperFailure(call, 'empty attestation document')
      return document
    },
  }
}
