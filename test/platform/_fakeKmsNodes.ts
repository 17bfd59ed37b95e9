/**
 * In-memory KMS nodes for the runtime-client unit tests: each speaks enough of PROTOCOL §2
 * and §3 (`/status`, `/nonce`, derive and `/kms/data` with real envelopes and real
 * counter-signatures) for `RuntimeKmsClient` to accept its answers, and can be told to
 * misbehave. `FakeNetwork.fetch` routes by origin, like loopback would.
 */
import type { DiscoveredKmsNode } from '../../core/client'
import {
  buildResponseMessage,
  decryptEnvelope,
  encryptEnvelope,
  generateP384PrivateKey,
  generateWalletPrivateKey,
  parseP384PublicKey,
  privateKeyToWallet,
  recoverMessageSigner,
  buildAppAuthMessage,
  signMessageWithKey,
  type P384PrivateKey,
  type P384PublicKey,
} from '../../core/crypto'
import { bytesToBase64, bytesToHex, canonicalJson, parseHex, type Wallet } from '../../core/encoding'
import type { Random } from '../../core/runtime'

export const CAPSULE_LABEL = 'capsule-ecdh-aes256gcm-v1'

export type FakeNodeMode =
  /** Answers everything properly. */
  | 'ok'
  /** Every connection fails, as a stopped process. */
  | 'down'
  /** Never answers (until the request is aborted). */
  | 'hang'
  /** `/status` and `/nonce` work; the KMS routes answer 503. */
  | 'unavailable'
  /** Counter-signs with v = 27/28 instead of 0/1. */
  | 'v27'
  /** Sends its previous answer envelope again. */
  | 'replay'

export interface RecordedRequest {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

export class FakeKmsNode {
  mode: FakeNodeMode = 'ok'
  /** Overrides `/status`'s `tee_pubkey` (identity binding tests). */
  statusPubkey: string | undefined
  /** The app's registry teePubkey, which answers are sealed to (PROTOCOL §5.6). */
  appKey: P384PublicKey | undefined
  readonly requests: RecordedRequest[] = []
  readonly store = new Map<string, string>()
  #lastAnswer: { body: string; signature: string } | undefined

  private constructor(
    readonly url: string,
    readonly walletKey: Uint8Array,
    readonly wallet: Wallet,
    readonly teeKey: P384PrivateKey,
    readonly random: Random,
  ) {}

  static async create(url: string, random: Random): Promise<FakeKmsNode> {
    const walletKey = generateWalletPrivateKey(random)
    return new FakeKmsNode(url, walletKey, privateKeyToWallet(walletKey), await generateP384PrivateKey(random), random)
  }

  get identity(): DiscoveredKmsNode {
    return { url: this.url, wallet: this.wallet, teePubkeyDer: this.teeKey.publicKey.der, instanceId: 1 }
  }

  /** Requests to a path, e.g. `/kms/derive`. */
  calls(path: string): RecordedRequest[] {
    return this.requests.filter((request) => new URL(request.url).pathname.startsWith(path))
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url)
    const body = request.method === 'GET' ? '' : await request.text()
    this.requests.push({ method: request.method, url: request.url, headers: Object.fromEntries(request.headers), body })
    if (url.pathname === '/status') {
      return Response.json({ node: { tee_wallet: this.wallet, tee_pubkey: this.statusPubkey ?? bytesToHex(this.teeKey.publicKey.der) } })
    }
    if (url.pathname === '/nonce') return Response.json({ nonce: bytesToBase64(this.random.bytes(16)) })
    if (this.mode === 'unavailable') return Response.json({ code: 'service_unavailable', message: 'initializing' }, { status: 503 })
    return this.#answerApp(request, url, body)
  }

  async #answerApp(request: Request, url: URL, body: string): Promise<Response> {
    const signature = request.headers.get('x-app-signature') ?? ''
    const refusal = this.#checkPop(request, signature)
    if (refusal !== undefined) return Response.json({ code: 'unauthorized', message: refusal }, { status: 403 })
    if (this.mode === 'replay' && this.#lastAnswer !== undefined) {
      return new Response(this.#lastAnswer.body, { headers: { 'content-type': 'application/json', 'x-kms-response-signature': this.#lastAnswer.signature } })
    }
    const inner = body === '' ? {} : await this.#open(body)
    let answer: Record<string, unknown>
    if (url.pathname === '/kms/derive') {
      answer = { app_id: 7, path: inner['path'], key: bytesToBase64(new Uint8Array(Number(inner['length'])).fill(7)), length: inner['length'] }
    } else if (request.method === 'GET' && url.pathname.startsWith('/kms/data/')) {
      const key = new URLSearchParams(`k=${url.pathname.slice('/kms/data/'.length)}`).get('k')!
      const value = this.store.get(key)
      if (value === undefined) return Response.json({ code: 'not_found', message: `Key not found: ${key}` }, { status: 404 })
      answer = { app_id: 7, key, value, updated_at_ms: 1 }
    } else if (request.method === 'PUT') {
      if (typeof inner['key'] !== 'string' || inner['key'] === '') return Response.json({ code: 'bad_request', message: "Invalid 'key'" }, { status: 400 })
      this.store.set(String(inner['key']), String(inner['value']))
      answer = { app_id: 7, key: inner['key'], updated_at_ms: 1 }
    } else if (request.method === 'DELETE') {
      if (!this.store.delete(String(inner['key']))) return Response.json({ code: 'not_found', message: `Key not found: ${String(inner['key'])}` }, { status: 404 })
      answer = { app_id: 7, key: inner['key'], deleted: true }
    } else {
      return Response.json({ code: 'not_found', message: 'Not found' }, { status: 404 })
    }
    return this.#seal(answer, signature)
  }

  /** PoP must be v ∈ {0, 1} and recover to `x-app-wallet` (RUNTIME.md §1); else the refusal. */
  #checkPop(request: Request, signature: string): string | undefined {
    const nonce = request.headers.get('x-app-nonce') ?? ''
    const timestamp = Number(request.headers.get('x-app-timestamp'))
    const signer = recoverMessageSigner(buildAppAuthMessage({ nonce, wallet: this.wallet, timestamp }), signature)
    if (signer !== request.headers.get('x-app-wallet')) return 'PoP does not recover to x-app-wallet'
    if (parseHex(signature)![64]! > 1) return 'PoP signature v is not 0/1'
    return undefined
  }

  async #open(body: string): Promise<Record<string, unknown>> {
    const envelope = JSON.parse(body) as Record<string, string>
    const sender = parseP384PublicKey(parseHex(envelope['sender_tee_pubkey']!)!)!
    // Only the current label opens: a client on another label fails here, as on a real node.
    const plaintext = await decryptEnvelope({
      privateKey: this.teeKey,
      peerPublicKey: sender,
      nonce: parseHex(envelope['nonce']!)!,
      ciphertext: parseHex(envelope['encrypted_data']!)!,
      info: CAPSULE_LABEL,
    })
    return JSON.parse(plaintext) as Record<string, unknown>
  }

  async #seal(answer: Record<string, unknown>, requestSignature: string): Promise<Response> {
    if (this.appKey === undefined) throw new Error('fake node: set appKey first')
    const nonce = this.random.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: this.teeKey, peerPublicKey: this.appKey, nonce, plaintext: canonicalJson(answer), info: CAPSULE_LABEL })
    const body = JSON.stringify({ sender_tee_pubkey: bytesToHex(this.teeKey.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ciphertext) })
    let signature: string = signMessageWithKey(this.walletKey, buildResponseMessage({ signature: requestSignature, wallet: this.wallet }))
    if (this.mode === 'v27') signature = signature.slice(0, -2) + (parseHex(signature)![64]! + 27).toString(16)
    this.#lastAnswer = { body, signature }
    return new Response(body, { headers: { 'content-type': 'application/json', 'x-kms-response-signature': signature } })
  }
}

/** Routes `fetch` to fake nodes by origin; `down` nodes refuse, `hang` nodes wait for abort. */
export class FakeNetwork {
  readonly nodes: FakeKmsNode[] = []

  add(...nodes: FakeKmsNode[]): this {
    this.nodes.push(...nodes)
    return this
  }

  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init)
    const node = this.nodes.find((candidate) => new URL(candidate.url).origin === new URL(request.url).origin)
    if (node === undefined || node.mode === 'down') throw new TypeError('fetch failed')
    if (node.mode === 'hang' && !new URL(request.url).pathname.startsWith('/status')) {
      return new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))))
    }
    return node.handle(request)
  }
}
