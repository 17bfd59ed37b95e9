/**
 * The app-side SDK (DESIGN §2 `core/client`): PoP signing, envelopes, and the checks a client
 * MUST make on every answer (PROTOCOL §3.4): the counter-signature recovers to the node's
 * registry wallet, and the envelope comes from the node's registry teePubkey.
 */
import { verifyAuditPage, type AuditCursor, type VerifiedAuditPage } from './verifyAuditPage'
import { importDerivedKey, type DerivedKeyUsage } from './importDerivedKey'
import { NovaKmsError } from './novaKmsError'
import { resolveAppKeys, type AppKeyOptions, type AppKeys } from './_appKeys'
import { signWithKmsSigner } from './signWithKmsSigner'
import { requestTarget } from '../auth/requestBinding'
import { readBoundedBody } from '../cluster/peerHttp'
import {
  buildAppAuthMessage,
  buildAppAuthMessageV2,
  buildResponseBindingMessage,
  buildResponseMessage,
  computeContentSha256,
  computeRequestDigest,
  ReplayMemory,
  ENVELOPE_INFO_CURRENT,
  isSameP384PublicKey,
  parseP384PublicKey,
  recoverMessageSigner,
} from '../crypto'
import { bytesToBase64, bytesToHex, canonicalJson, parseBase64, parseHex, utf8ToBytes, type JsonValue, type Wallet } from '../encoding'
import { nowSeconds, type Clock, type Random } from '../runtime'
import { sha256 } from '@noble/hashes/sha2.js'

/** A node as the registry lists it: the only identity a client trusts (§3.4 client rules). */
export interface KmsNodeIdentity {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
}

export interface KmsClientBaseOptions {
  node: KmsNodeIdentity
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
   * Attestation auth (§3.2.1): given a fresh KMS nonce (base64) and the `user_data` the
   * document must carry (`nova_kms`, §3.5), the app's own helper returns a COSE_Sign1
   * document that embeds both. With it, `auth` picks the method.
   */
  attest?: (nonce: string, userData: Readonly<Record<string, JsonValue>>) => Promise<Uint8Array>
  /**
   * Request/response binding (§3.5): 2 (the default) signs method, target and body and
   * verifies a binding over every answer; 1 is the runtime's protocol, kept for old nodes.
   */
  bindingVersion?: 1 | 2
  /** `pop` (default), `attestation`, or `both`. */
  auth?: 'pop' | 'attestation' | 'both'
}

/**
 * The client's options: the node, and the app's keys, a signer (or `walletKey`) and an
 * envelope key (or `teeKey`), exactly one of each.
 */
export type KmsClientOptions = KmsClientBaseOptions & AppKeyOptions

/** A non-2xx answer: the PROTOCOL §12.4 body, or a failed client-side check (status 0). */
export class KmsClientError extends NovaKmsError {
  override readonly name = 'KmsClientError'
  constructor(
    readonly status: number,
    /** The PROTOCOL code (§12.4) of the refusal, or the client's for an answer it could not accept. */
    code: string,
    message: string,
    /**
     * For an unbound v2 answer (`unbound_response`): what it claimed, which nothing
     * verifies. Refusals before authentication (a bad PoP, an unregistered wallet) can only
     * be unbound, since the node does not yet know whom it answers; they are shown here for
     * diagnosis and must never be acted on as an answer (§3.5).
     */
    readonly unverified?: { status: number; code: string; message: string },
  ) {
    super(message, { code })
  }
}

function claimOf(status: number, bytes: Uint8Array): { status: number; code: string; message: string } {
  try {
    const body = JSON.parse(new TextDecoder().decode(bytes)) as { code?: unknown; message?: unknown }
    return { status, code: String(body.code ?? 'unknown'), message: String(body.message ?? '') }
  } catch {
    return { status, code: 'bad_response', message: 'answer is not JSON' }
  }
}

/** An answer that verified but does not answer the question asked (§3.5 echo checks). */
function mismatch(message: string): KmsClientError {
  return new KmsClientError(0, 'answer_mismatch', message)
}

export type PopHeaders = {
  'x-app-signature': string
  'x-app-nonce': string
  'x-app-timestamp': string
}

/** What one request is, for binding v2 (§3.5). */
export interface BoundRequest {
  method: string
  /** The path and query, appended to the node URL. */
  path: string
  /** The exact body text, if any. */
  body: string | undefined
}

/** The auth headers of one request, and what the node's answer signature covers. */
export interface AuthHeaders {
  headers: Record<string, string>
  /** The PoP signature, or with attestation only the SHA-256 hex of the document (§3.4, §3.5). */
  signatureSubject: string
  version: 1 | 2
}

/**
 * The most of a node's answer the SDK reads (the host can answer at a node's URL with any
 * bytes). The largest honest answer is a 1 MiB value read back: base64 in JSON, hex in the
 * envelope, about 2.7 MiB.
 */
export const MAX_NODE_ANSWER_BYTES = 8 * 1024 * 1024
/** A `/nonce` answer is a few dozen bytes. */
const MAX_NONCE_ANSWER_BYTES = 1024

/** Reads a node's answer within `limit`, as a client-side failure (status 0) past it. */
async function readAnswer(response: Response, limit: number): Promise<Uint8Array> {
  try {
    return await readBoundedBody(response, limit)
  } catch (error) {
    throw new KmsClientError(0, 'oversized_response', error instanceof Error ? error.message : 'answer unreadable')
  }
}

/** Answer envelope nonces remembered per client, to refuse a replayed answer (§3.5). */
const ANSWER_MEMORY = 1024

export class KmsClient {
  readonly #options: KmsClientOptions
  readonly #keys: AppKeys
  readonly #fetch: typeof fetch
  readonly #answers = new ReplayMemory(ANSWER_MEMORY)

  /** @throws TypeError unless exactly one of `signer`/`walletKey` and of `envelopeKey`/`teeKey` is given. */
  constructor(options: KmsClientOptions) {
    this.#options = options
    this.#keys = resolveAppKeys(options, options.random)
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  }

  /** The app's wallet: its signer's address, canonical. */
  get wallet(): Wallet {
    return this.#keys.wallet
  }

  /** The binding version this client speaks. */
  get bindingVersion(): 1 | 2 {
    return this.#options.bindingVersion ?? 2
  }

  #url(path: string): string {
    return this.#options.node.url.replace(/\/+$/, '') + path
  }

  /** `GET /nonce`. */
  async nonce(): Promise<string> {
    const response = await this.#fetch(this.#url('/nonce'))
    let body: { nonce?: unknown; code?: string; message?: string }
    try {
      body = JSON.parse(new TextDecoder().decode(await readAnswer(response, MAX_NONCE_ANSWER_BYTES))) as typeof body
    } catch (error) {
      if (error instanceof KmsClientError) throw error
      throw new KmsClientError(response.status, 'bad_response', 'nonce answer is not JSON')
    }
    if (!response.ok || typeof body.nonce !== 'string') {
      throw new KmsClientError(response.status, body.code ?? 'bad_response', body.message ?? 'no nonce')
    }
    return body.nonce
  }

  /** Fresh v1 PoP headers for one request to this node (§3.1.1). */
  popHeaders(): Promise<PopHeaders> {
    return this.#popHeaders(undefined)
  }

  async #popHeaders(requestDigest: string | undefined): Promise<PopHeaders> {
    const nonce = await this.nonce()
    const timestamp = nowSeconds(this.#options.clock)
    const signed = { nonce, wallet: this.#options.node.wallet, timestamp }
    const message = requestDigest === undefined ? buildAppAuthMessage(signed) : buildAppAuthMessageV2({ ...signed, requestDigest })
    // v ∈ {0, 1}, as the runtime's own KMS client signs PoP (RUNTIME.md §1); nodes accept both.
    const signature = await signWithKmsSigner({ signer: this.#keys.signer, wallet: this.#keys.wallet, message })
    return {
      'x-app-signature': signature,
      'x-app-nonce': nonce,
      'x-app-timestamp': String(timestamp),
    }
  }

  /**
   * Seals `inner` to the node's registry teePubkey (§5.6) with the app's envelope key.
   * @throws KmsClientError `bad_identity` when the node's teePubkey is not a P-384 key.
   */
  async sealRequest(inner: unknown): Promise<{ sender_tee_pubkey: string; nonce: string; encrypted_data: string }> {
    if (parseP384PublicKey(this.#options.node.teePubkeyDer) === undefined) throw new KmsClientError(0, 'bad_identity', 'node teePubkey is not a P-384 key')
    const sealed = await this.#keys.envelopeKey.seal({
      plaintext: canonicalJson(inner),
      recipientPublicKeyDer: this.#options.node.teePubkeyDer,
      info: this.#options.envelopeInfo ?? ENVELOPE_INFO_CURRENT,
    })
    return { sender_tee_pubkey: bytesToHex(sealed.senderPublicKeyDer), nonce: bytesToHex(sealed.nonce), encrypted_data: bytesToHex(sealed.ciphertext) }
  }

  /**
   * The auth headers of one request. v1 (§3.1, §3.4): PoP over nonce, wallet and time. v2
   * (§3.5): PoP over the request digest of `request` too, with `X-App-Wallet`,
   * `X-App-Auth-Version` and `X-App-Content-SHA256`; an attestation-only document carries
   * `nova_kms` naming this node and the digest.
   */
  async authHeaders(request?: BoundRequest): Promise<AuthHeaders> {
    const version = this.bindingVersion
    if (version === 2 && request === undefined) throw new KmsClientError(0, 'bad_request', 'binding v2 needs the request to sign')
    const { node } = this.#options
    const contentSha256 = computeContentSha256(utf8ToBytes(request?.body ?? ''))
    const requestDigest =
      version === 2 && request !== undefined
        ? computeRequestDigest({ method: request.method, target: requestTarget(new URL(this.#url(request.path)), node.url), contentSha256 })
        : undefined
    const mode = this.#options.auth ?? 'pop'
    const v2Headers: Record<string, string> =
      requestDigest === undefined ? {} : { 'x-app-auth-version': '2', 'x-app-content-sha256': contentSha256, 'x-app-wallet': this.#keys.wallet }
    const pop = mode === 'attestation' ? undefined : await this.#popHeaders(requestDigest)
    if (mode === 'pop') return { headers: { ...pop!, ...v2Headers }, signatureSubject: pop!['x-app-signature'], version }
    const attest = this.#options.attest
    if (attest === undefined) throw new KmsClientError(0, 'no_attestation', 'attestation auth needs an `attest` function')
    // With both methods, one nonce serves both (§3.2.2 step 2).
    const nonce = pop?.['x-app-nonce'] ?? (await this.nonce())
    const binding: Record<string, JsonValue> = { v: version, kms_wallet: node.wallet }
    if (requestDigest !== undefined) binding['request_digest'] = requestDigest
    const document = await attest(nonce, { nova_kms: binding })
    const headers: Record<string, string> = { ...pop, ...v2Headers, 'x-nitro-attestation': bytesToBase64(document) }
    return { headers, signatureSubject: pop?.['x-app-signature'] ?? bytesToHex(sha256(document)), version }
  }

  /**
   * Sends one authenticated request and returns the verified, decrypted inner answer.
   * @throws KmsClientError for a non-2xx answer or a failed check.
   */
  async request(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, inner?: unknown, extraHeaders: Record<string, string> = {}): Promise<Record<string, unknown>> {
    const body = inner === undefined ? undefined : JSON.stringify(await this.sealRequest(inner))
    const { headers, signatureSubject } = await this.authHeaders({ method, path, body })
    const response = await this.#fetch(this.#url(path), {
      method,
      headers: { 'content-type': 'application/json', ...headers, ...extraHeaders },
      ...(body === undefined ? {} : { body }),
    })
    return this.openResponse(response, signatureSubject)
  }

  /**
   * Checks and opens an answer to a request whose signature subject is `requestSignature`.
   * v2 (§3.5): the binding over status and exact body must recover to the node's registry
   * wallet before anything in the answer, errors included, is believed; an unbound answer is
   * a transient failure (status 0, `unbound_response`), never a not-found or a success.
   * v1 (§3.4): errors are taken as they come, and a 2xx needs the counter-signature.
   * Either way the envelope must come from the node's registry key, and an envelope nonce
   * seen before is refused.
   * @throws KmsClientError for a non-2xx answer or a failed check.
   */
  async openResponse(response: Response, requestSignature: string): Promise<Record<string, unknown>> {
    const bytes = await readAnswer(response, MAX_NODE_ANSWER_BYTES)
    const { node } = this.#options
    if (this.bindingVersion === 2) {
      const binding = response.headers.get('x-kms-response-binding')
      if (binding === null) throw new KmsClientError(0, 'unbound_response', 'answer has no X-KMS-Response-Binding', claimOf(response.status, bytes))
      const message = buildResponseBindingMessage({
        subject: requestSignature,
        wallet: node.wallet,
        status: response.status,
        bodySha256: computeContentSha256(bytes),
      })
      let signer: Wallet | undefined
      try {
        signer = recoverMessageSigner(message, binding)
      } catch {
        signer = undefined // a malformed binding is an unbound answer, like a wrong one
      }
      if (signer !== node.wallet) {
        throw new KmsClientError(0, 'unbound_response', 'answer binding does not verify against the node wallet', claimOf(response.status, bytes))
      }
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      throw new KmsClientError(response.ok ? 0 : response.status, 'bad_response', 'answer is not JSON')
    }
    const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
    if (!response.ok) {
      throw new KmsClientError(response.status, String(record['code'] ?? 'unknown'), String(record['message'] ?? ''))
    }
    if (this.bindingVersion === 1) {
      const counterSignature = response.headers.get('x-kms-response-signature')
      if (counterSignature === null) throw new KmsClientError(0, 'unsigned_response', 'answer has no X-KMS-Response-Signature')
      // Current nodes sign with v ∈ {0, 1} (§3.1.2, §10.3). Unlike the runtime's client, which
      // rejects v = 27/28, the SDK still accepts 27/28 (recoverMessageSigner takes both): nodes
      // before 2026-12 sign that way, and v only encodes the recovery id, so accepting it
      // weakens nothing. The node-side tests pin that nodes emit 0/1.
      const signer = recoverMessageSigner(buildResponseMessage({ signature: requestSignature, wallet: node.wallet }), counterSignature)
      if (signer !== node.wallet) throw new KmsClientError(0, 'bad_signature', 'answer is not signed by the node wallet')
    }
    const sender = typeof record['sender_tee_pubkey'] === 'string' ? parseHex(record['sender_tee_pubkey']) : undefined
    const senderKey = parseP384PublicKey(node.teePubkeyDer)
    if (sender === undefined || senderKey === undefined || !isSameP384PublicKey(sender, node.teePubkeyDer)) {
      throw new KmsClientError(0, 'bad_sender', 'answer is not sealed by the node teePubkey')
    }
    const nonce = typeof record['nonce'] === 'string' ? parseHex(record['nonce']) : undefined
    const ciphertext = typeof record['encrypted_data'] === 'string' ? parseHex(record['encrypted_data']) : undefined
    if (nonce === undefined || ciphertext === undefined) throw new KmsClientError(0, 'bad_response', 'answer envelope is malformed')
    const plaintext = await this.#keys.envelopeKey.open({
      senderPublicKeyDer: senderKey.der,
      nonce,
      ciphertext,
      info: this.#options.envelopeInfo ?? ENVELOPE_INFO_CURRENT,
    })
    // Remembered only once it decrypted, so a forged envelope cannot burn a nonce.
    if (!this.#answers.remember(senderKey.der, nonce)) throw new KmsClientError(0, 'replayed_response', 'answer envelope was seen before')
    const inner: unknown = JSON.parse(plaintext)
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw new KmsClientError(0, 'bad_response', 'answer is not an object')
    return inner as Record<string, unknown>
  }

  /**
   * `POST /kms/derive` → the derived key bytes and the epochs they were derived under (§2.4,
   * §7.7). `epoch` pins the cluster and app key epochs; omitted members mean "current", and
   * the answer says which those were. An answer naming other epochs than those asked for is
   * refused, as one for another path is.
   */
  async derive(params: { path: string; context?: string; length?: number; epoch?: { cluster?: number; app?: number } }): Promise<{
    appId: number
    key: Uint8Array
    epoch: { cluster: number; app: number }
  }> {
    const answer = await this.request('POST', '/kms/derive', params)
    // An answer for another path (swapped by a relay) must not pass as this one (§3.5).
    if (answer['path'] !== params.path) throw mismatch('derive answer is for another path')
    const key = typeof answer['key'] === 'string' ? parseBase64(answer['key']) : undefined
    if (key === undefined || key.length !== Number(params.length ?? 32)) throw mismatch('derive answer has no key of the asked length')
    const epoch = parseAnsweredEpoch(answer['epoch'])
    if (epoch === undefined) throw mismatch('derive answer does not name its epochs')
    if ((params.epoch?.cluster !== undefined && params.epoch.cluster !== epoch.cluster) || (params.epoch?.app !== undefined && params.epoch.app !== epoch.app)) {
      throw mismatch('derive answer is for other epochs than asked')
    }
    return { appId: Number(answer['app_id']), key, epoch }
  }

  /**
   * {@link derive}, returning the key as a non-extractable WebCrypto key for `usage`; the raw
   * bytes are zeroed once imported.
   */
  async deriveCryptoKey(
    params: { path: string; context?: string; length?: number; epoch?: { cluster?: number; app?: number } },
    usage: DerivedKeyUsage,
  ): Promise<{ appId: number; key: CryptoKey; epoch: { cluster: number; app: number } }> {
    const derived = await this.derive(params)
    return { ...derived, key: await importDerivedKey(derived.key, usage) }
  }

  async putData(key: string, value: Uint8Array, ttlMs?: number): Promise<{ updatedAtMs: number }> {
    const answer = await this.request('PUT', '/kms/data', { key, value: bytesToBase64(value), ...(ttlMs === undefined ? {} : { ttl_ms: ttlMs }) })
    return { updatedAtMs: Number(answer['updated_at_ms']) }
  }

  async getData(key: string): Promise<{ value: Uint8Array; updatedAtMs: number }> {
    const answer = await this.request('GET', `/kms/data?key=${encodeURIComponent(key)}`)
    if (answer['key'] !== key) throw mismatch('data answer is for another key')
    const value = typeof answer['value'] === 'string' ? parseBase64(answer['value']) : undefined
    if (value === undefined) throw mismatch('data answer has no value')
    return { value, updatedAtMs: Number(answer['updated_at_ms']) }
  }

  async listData(): Promise<string[]> {
    const answer = await this.request('GET', '/kms/data')
    const keys = answer['keys']
    if (!Array.isArray(keys) || !keys.every((entry) => typeof entry === 'string') || answer['count'] !== keys.length) {
      throw mismatch('list answer does not have the list shape')
    }
    return keys as string[]
  }

  /**
   * One page of this app's audit chain on this node (PROTOCOL §14.4), verified: the signed
   * head, every hash, the sequence, and, given the previous read's cursor, the continuity.
   * @throws AuditVerificationError when the page does not verify.
   */
  async audit(options: { since?: number; previous?: AuditCursor; appId: number }): Promise<VerifiedAuditPage> {
    const since = options.since ?? options.previous?.seq ?? 0
    const page = await this.request('GET', `/kms/audit?since=${since}`)
    return verifyAuditPage({ page, appId: options.appId, since, node: this.#options.node, ...(options.previous === undefined ? {} : { previous: options.previous }) })
  }

  async deleteData(key: string): Promise<void> {
    await this.request('DELETE', '/kms/data', { key })
  }

  async signCert(csr: string, validitySeconds?: number): Promise<Record<string, unknown>> {
    return this.request('POST', '/kms/sign_cert', { csr, ...(validitySeconds === undefined ? {} : { validity_seconds: validitySeconds }) })
  }
}

/** `{"cluster": int, "app": int}` of a derive answer (§2.4), or `undefined` when malformed. */
function parseAnsweredEpoch(value: unknown): { cluster: number; app: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { cluster, app } = value as Record<string, unknown>
  const isEpoch = (candidate: unknown): candidate is number => typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 0 && candidate <= 0xffff_ffff
  return isEpoch(cluster) && isEpoch(app) ? { cluster, app } : undefined
}
