/**
 * The app-side SDK (DESIGN §2 `core/client`): PoP signing, envelopes, and the checks a client
 * MUST make on every answer (PROTOCOL §3.4): the counter-signature recovers to the node's
 * registry wallet, and the envelope comes from the node's registry teePubkey.
 */
import {
  buildAppAuthMessage,
  buildResponseMessage,
  decryptEnvelope,
  encryptEnvelope,
  ENVELOPE_INFO_CURRENT,
  isSameP384PublicKey,
  parseP384PublicKey,
  recoverMessageSigner,
  signMessageWithKey,
  type P384PrivateKey,
} from '../crypto'
import { bytesToBase64, bytesToHex, canonicalJson, parseBase64, parseHex, type Wallet } from '../encoding'
import { nowSeconds, type Clock, type Random } from '../runtime'
import { sha256 } from '@noble/hashes/sha2.js'

/** A node as the registry lists it: the only identity a client trusts (§3.4 client rules). */
export interface KmsNodeIdentity {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
}

export interface KmsClientOptions {
  node: KmsNodeIdentity
  /** The app's secp256k1 wallet key (its TEE wallet). */
  walletKey: Uint8Array
  /** The app's P-384 key, whose public half is its registry teePubkey. */
  teeKey: P384PrivateKey
  clock: Clock
  random: Random
  fetch?: typeof fetch
  /**
   * Envelope HKDF info (§10.2). Defaults to the current runtime's label,
   * `capsule-ecdh-aes256gcm-v1` (`ENVELOPE_INFO_CURRENT`); pass `ENVELOPE_INFO_ENCLAVER_V1` or
   * `ENVELOPE_INFO_CAPSULE_API` to talk to a node of an older runtime generation.
   */
  envelopeInfo?: string
  /**
   * Attestation auth (§3.2.1): given a fresh KMS nonce (base64), the app's own helper returns
   * a COSE_Sign1 document that embeds it. With it, `auth` picks the method.
   */
  attest?: (nonce: string) => Promise<Uint8Array>
  /** `pop` (default), `attestation`, or `both`. */
  auth?: 'pop' | 'attestation' | 'both'
}

/** A non-2xx answer: the PROTOCOL §12.4 body, or a failed client-side check (status 0). */
export class KmsClientError extends Error {
  override readonly name = 'KmsClientError'
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

export type PopHeaders = {
  'x-app-signature': string
  'x-app-nonce': string
  'x-app-timestamp': string
}

export class KmsClient {
  readonly #options: KmsClientOptions
  readonly #fetch: typeof fetch

  constructor(options: KmsClientOptions) {
    this.#options = options
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  }

  #url(path: string): string {
    return this.#options.node.url.replace(/\/+$/, '') + path
  }

  /** `GET /nonce`. */
  async nonce(): Promise<string> {
    const response = await this.#fetch(this.#url('/nonce'))
    const body = (await response.json()) as { nonce?: unknown; code?: string; message?: string }
    if (!response.ok || typeof body.nonce !== 'string') {
      throw new KmsClientError(response.status, body.code ?? 'bad_response', body.message ?? 'no nonce')
    }
    return body.nonce
  }

  /** Fresh PoP headers for one request to this node (§3.1.1). */
  async popHeaders(): Promise<PopHeaders> {
    const nonce = await this.nonce()
    const timestamp = nowSeconds(this.#options.clock)
    const message = buildAppAuthMessage({ nonce, wallet: this.#options.node.wallet, timestamp })
    return {
      // v ∈ {0, 1}, as the runtime's own KMS client signs PoP (RUNTIME.md §1); nodes accept both.
      'x-app-signature': signMessageWithKey(this.#options.walletKey, message),
      'x-app-nonce': nonce,
      'x-app-timestamp': String(timestamp),
    }
  }

  /** Seals `inner` to the node's registry teePubkey (§5.6). */
  async sealRequest(inner: unknown): Promise<{ sender_tee_pubkey: string; nonce: string; encrypted_data: string }> {
    const peerPublicKey = parseP384PublicKey(this.#options.node.teePubkeyDer)
    if (peerPublicKey === undefined) throw new KmsClientError(0, 'bad_identity', 'node teePubkey is not a P-384 key')
    const nonce = this.#options.random.bytes(12)
    const ciphertext = await encryptEnvelope({
      privateKey: this.#options.teeKey,
      peerPublicKey,
      nonce,
      plaintext: canonicalJson(inner),
      info: this.#options.envelopeInfo ?? ENVELOPE_INFO_CURRENT,
    })
    return { sender_tee_pubkey: bytesToHex(this.#options.teeKey.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ciphertext) }
  }

  /**
   * The auth headers of one request, and what the node's counter-signature covers (§3.4):
   * the PoP signature, or with attestation only the SHA-256 hex of the document.
   */
  async authHeaders(): Promise<{ headers: Record<string, string>; signatureSubject: string }> {
    const mode = this.#options.auth ?? 'pop'
    const pop = mode === 'attestation' ? undefined : await this.popHeaders()
    if (mode === 'pop') return { headers: { ...pop! }, signatureSubject: pop!['x-app-signature'] }
    const attest = this.#options.attest
    if (attest === undefined) throw new KmsClientError(0, 'no_attestation', 'attestation auth needs an `attest` function')
    // With both methods, one nonce serves both (§3.2.2 step 2).
    const document = await attest(pop?.['x-app-nonce'] ?? (await this.nonce()))
    const headers: Record<string, string> = { ...pop, 'x-nitro-attestation': bytesToBase64(document) }
    return { headers, signatureSubject: pop?.['x-app-signature'] ?? bytesToHex(sha256(document)) }
  }

  /**
   * Sends one authenticated request and returns the verified, decrypted inner answer.
   * @throws KmsClientError for a non-2xx answer or a failed check.
   */
  async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, inner?: unknown, extraHeaders: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const { headers, signatureSubject } = await this.authHeaders()
    const body = inner === undefined ? undefined : JSON.stringify(await this.sealRequest(inner))
    const response = await this.#fetch(this.#url(path), {
      method,
      headers: { 'content-type': 'application/json', ...headers, ...extraHeaders },
      ...(body === undefined ? {} : { body }),
    })
    return this.openResponse(response, signatureSubject)
  }

  /** Checks and opens an answer whose counter-signature covers `requestSignature` (§3.4). */
  async openResponse(response: Response, requestSignature: string): Promise<Record<string, unknown>> {
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      throw new KmsClientError(response.status, 'bad_response', 'answer is not JSON')
    }
    const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
    if (!response.ok) {
      throw new KmsClientError(response.status, String(record['code'] ?? 'unknown'), String(record['message'] ?? ''))
    }
    const { node } = this.#options
    const counterSignature = response.headers.get('x-kms-response-signature')
    if (counterSignature === null) throw new KmsClientError(0, 'unsigned_response', 'answer has no X-KMS-Response-Signature')
    // Current nodes sign with v ∈ {0, 1} (§3.1.2, §10.3). Unlike the runtime's client, which
    // rejects v = 27/28, the SDK still accepts 27/28 (recoverMessageSigner takes both): nodes
    // before 2026-12 sign that way, and v only encodes the recovery id, so accepting it
    // weakens nothing. The node-side tests pin that nodes emit 0/1.
    const signer = recoverMessageSigner(buildResponseMessage({ signature: requestSignature, wallet: node.wallet }), counterSignature)
    if (signer !== node.wallet) throw new KmsClientError(0, 'bad_signature', 'answer is not signed by the node wallet')
    const sender = typeof record['sender_tee_pubkey'] === 'string' ? parseHex(record['sender_tee_pubkey']) : undefined
    if (sender === undefined || !isSameP384PublicKey(sender, node.teePubkeyDer)) {
      throw new KmsClientError(0, 'bad_sender', 'answer is not sealed by the node teePubkey')
    }
    const nonce = typeof record['nonce'] === 'string' ? parseHex(record['nonce']) : undefined
    const ciphertext = typeof record['encrypted_data'] === 'string' ? parseHex(record['encrypted_data']) : undefined
    if (nonce === undefined || ciphertext === undefined) throw new KmsClientError(0, 'bad_response', 'answer envelope is malformed')
    const plaintext = await decryptEnvelope({
      privateKey: this.#options.teeKey,
      peerPublicKey: parseP384PublicKey(node.teePubkeyDer)!,
      nonce,
      ciphertext,
      info: this.#options.envelopeInfo ?? ENVELOPE_INFO_CURRENT,
    })
    return JSON.parse(plaintext) as Record<string, unknown>
  }

  /** `POST /kms/derive` → the derived key bytes. */
  async derive(params: { path: string; context?: string; length?: number }): Promise<{ appId: number; key: Uint8Array }> {
    const answer = await this.request('POST', '/kms/derive', params)
    return { appId: Number(answer['app_id']), key: parseBase64(String(answer['key'])) ?? new Uint8Array(0) }
  }

  async putData(key: string, value: Uint8Array, ttlMs?: number): Promise<{ updatedAtMs: number }> {
    const answer = await this.request('PUT', '/kms/data', { key, value: bytesToBase64(value), ...(ttlMs === undefined ? {} : { ttl_ms: ttlMs }) })
    return { updatedAtMs: Number(answer['updated_at_ms']) }
  }

  async getData(key: string): Promise<{ value: Uint8Array; updatedAtMs: number }> {
    const answer = await this.request('GET', `/kms/data?key=${encodeURIComponent(key)}`)
    return { value: parseBase64(String(answer['value'])) ?? new Uint8Array(0), updatedAtMs: Number(answer['updated_at_ms']) }
  }

  async listData(): Promise<string[]> {
    const answer = await this.request('GET', '/kms/data')
    return Array.isArray(answer['keys']) ? answer['keys'].map(String) : []
  }

  async deleteData(key: string): Promise<void> {
    await this.request('DELETE', '/kms/data', { key })
  }

  async signCert(csr: string, validitySeconds?: number): Promise<Record<string, unknown>> {
    return this.request('POST', '/kms/sign_cert', { csr, ...(validitySeconds === undefined ? {} : { validity_seconds: validitySeconds }) })
  }
}
