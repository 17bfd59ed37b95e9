/**
 * Over 400 lines: one class, every call of the runtime-like client sharing its failover loop.
 * A KMS client that behaves like the Nova runtime's own (RUNTIME.md §1 "Request" and
 * "Response checks"): what a production app's `/v1/kms/*` call turns into. PoP, envelopes
 * and the checks of PROTOCOL §3.4 are the SDK's (`KmsClient`); this adds the runtime's
 * policy around them: its own authorization first, 3 rounds over the nodes 150 ms apart,
 * a 10 s deadline per request, `x-app-wallet`, the form-encoded GET key, the reserved derive
 * prefix, and the stricter answer checks (v ∈ {0, 1} only, no replayed answer envelope).
 */
import { importDerivedKey, type DerivedKeyUsage } from './importDerivedKey'
import type { Sleep } from '../cluster'
import { parseP384PublicKey, ReplayMemory } from '../crypto'
import { sha256 } from '@noble/hashes/sha2.js'
import { decodePem } from '../ca/_pem'
import { bytesToBase64, bytesToHex, parseBase64, parseHex, type Wallet } from '../encoding'
import { isKmsError } from '../errors'
import type { Clock, Random } from '../runtime'
import { createTimedFetch, type FetchFunction } from './_timedFetch'
import { TtlCache } from './_ttlCache'
import { resolveAppKeys, type AppKeyOptions, type AppKeys } from './_appKeys'
import type { RuntimeInstanceAuthorization } from './authorizeRuntimeInstance'
import type { DiscoveredKmsNode } from './discoverKmsNodes'
import { parsePeerListing, type KmsPeerListing } from './parsePeerListing'
import { encodeFormUrlComponent } from './encodeFormUrlComponent'
import { verifyAuditPage, type AuditCursor, type VerifiedAuditPage } from './verifyAuditPage'
import { KmsClient, KmsClientError } from './kmsClient'
import { NODE_REQUEST_TIMEOUT_MS, type NodeDirectory } from './nodeDirectory'
import {
  KmsNodeExchangeError,
  KmsNodesUnavailableError,
  KmsRequestRejectedError,
  KmsReservedPathError,
  type KmsNodeFailure,
} from './runtimeErrors'

/**
 * The envelope label the current runtime speaks (RUNTIME.md §1, from v1.8.0). Pinned here
 * rather than taken from the SDK's default: a runtime speaks exactly its own label.
 */
export const RUNTIME_ENVELOPE_INFO = 'capsule-ecdh-aes256gcm-v1'
/** Derive paths the runtime keeps for itself (the app wallet lives under it, in KV). */
export const RESERVED_DERIVE_PREFIX = 'wallet/eth/app/'
export const CALL_ROUNDS = 3
export const ROUND_DELAY_MS = 150
/** RUNTIME.md §1: the runtime's own authorization result is cached 10 s. */
export const AUTHORIZATION_TTL_MS = 10_000
/** A node's error message is passed on, but never at any length. */
const MAX_NODE_MESSAGE_LENGTH = 200

export interface RuntimeKmsClientBaseOptions {
  directory: Pick<NodeDirectory, 'nodes' | 'candidates' | 'verifiedNodes' | 'invalidateIdentity' | 'markUnreachable'>
  /** The runtime's own authorization (`authorizeRuntimeInstance`); cached here 10 s. */
  authorize: () => Promise<RuntimeInstanceAuthorization>
  clock: Clock
  random: Random
  /** Waits between rounds. */
  sleep: Sleep
  fetch?: FetchFunction
  /** Per request; defaults to {@link NODE_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number
  /**
   * Request/response binding (PROTOCOL §3.5). 1, the default, is what the real runtime
   * speaks; 2 binds method, target and body and verifies a binding over every answer.
   */
  bindingVersion?: 1 | 2
}

/** The client's options and the instance's keys: a signer (or `walletKey`) and an envelope key (or `teeKey`). */
export type RuntimeKmsClientOptions = RuntimeKmsClientBaseOptions & AppKeyOptions

export type KvGetResult = { found: true; value: Uint8Array } | { found: false }

/** Pins a derive's cluster and app key epochs (PROTOCOL §5.2); an omitted member means current. */
export interface DeriveEpoch {
  cluster?: number
  app?: number
}

export interface IssuedCertificate {
  /** The leaf, PEM. */
  certificate: string
  /** The CA that signed it, PEM, from the bound answer. */
  caCertificate: string
  /** The leaf's serial, lowercase hex. */
  serial: string
}

/** Where a verified audit read ended, and on which node: pass it back as `previous`. */
export interface NodeAuditCursor extends AuditCursor {
  node: { url: string; wallet: Wallet }
}

/** A verified audit page (§14.4), with the node whose chain it is. */
export interface NodeAuditPage extends VerifiedAuditPage {
  node: { url: string; wallet: Wallet }
  cursor: NodeAuditCursor
}

function isSameNode(node: { url: string; wallet: Wallet }, other: { url: string; wallet: Wallet }): boolean {
  return node.url === other.url && node.wallet === other.wallet
}

function parseDeriveEpoch(value: unknown): { cluster: number; app: number } | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { cluster, app } = value as Record<string, unknown>
  const isEpoch = (candidate: unknown): candidate is number => typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 0 && candidate <= 0xffff_ffff
  return isEpoch(cluster) && isEpoch(app) ? { cluster, app } : undefined
}

/** A §2.7 answer whose `fingerprint_sha256` is the SHA-256 of its certificate's DER. */
function parseCaAnswer(answer: unknown): { pem: string; fingerprintSha256: string; epoch: number } | undefined {
  if (typeof answer !== 'object' || answer === null) return undefined
  const { ca_certificate: pem, fingerprint_sha256: fingerprint, epoch } = answer as Record<string, unknown>
  if (typeof pem !== 'string' || typeof fingerprint !== 'string' || typeof epoch !== 'number' || !Number.isSafeInteger(epoch)) return undefined
  const der = decodePem(pem, ['CERTIFICATE'])
  if (der === undefined || bytesToHex(sha256(der)) !== fingerprint) return undefined
  return { pem, fingerprintSha256: fingerprint, epoch }
}

interface Exchange {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  path: string
  inner?: Record<string, unknown>
  /** kv get and delete: a 404 or a "key not found" body is an answer, not a failure. */
  notFoundIsAnswer: boolean
}

type ExchangeResult = { found: true; answer: Record<string, unknown> } | { found: false }

function unverified(message: string, cause?: unknown): KmsNodeExchangeError {
  return new KmsNodeExchangeError('unverified', message, { cause })
}

/** RUNTIME.md §1: the runtime's verifier accepts only a recovery-id byte, v ∈ {0, 1}. */
function checkRecoveryId(signature: string | null): void {
  if (signature === null) return // KmsClient.openResponse reports the missing header
  const bytes = parseHex(signature)
  if (bytes === undefined || bytes.length !== 65) throw unverified('response signature is not 65 bytes of hex')
  if (bytes[64]! > 1) throw unverified('response signature v is not 0 or 1')
}

function errorBody(text: string): { code: string; message: string } {
  try {
    const parsed = JSON.parse(text) as unknown
    if (typeof parsed === 'object' && parsed !== null) {
      const { code, message } = parsed as Record<string, unknown>
      return { code: typeof code === 'string' ? code : 'unknown', message: typeof message === 'string' ? message.slice(0, MAX_NODE_MESSAGE_LENGTH) : '' }
    }
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error
  }
  return { code: 'unknown', message: '' }
}

/**
 * Which failures move the call on to the next node. Anything not listed is a bug and
 * propagates.
 */
function asNodeFailure(error: unknown): KmsNodeExchangeError | undefined {
  if (error instanceof KmsNodeExchangeError) return error
  // Status 0: the SDK's own checks of an answer (signature, sender, envelope shape). Any
  // other status comes from `GET /nonce`, whose refusal says nothing about the request.
  if (error instanceof KmsClientError) {
    return new KmsNodeExchangeError(error.status === 0 ? 'unverified' : 'unavailable', error.message, { cause: error })
  }
  if (isKmsError(error) && error.code === 'decryption_failed') return unverified('answer envelope does not decrypt', error)
  // JSON.parse of a /nonce body or of a decrypted answer.
  if (error instanceof SyntaxError) return unverified('answer is not JSON', error)
  return undefined
}

export class RuntimeKmsClient {
  readonly #options: RuntimeKmsClientOptions
  readonly #fetch: FetchFunction
  readonly #keys: AppKeys
  readonly #authorization: TtlCache<'self', RuntimeInstanceAuthorization>
  // RUNTIME.md §1: a reused (sender key, nonce) pair in an answer is refused.
  readonly #answers = new ReplayMemory()

  constructor(options: RuntimeKmsClientOptions) {
    this.#options = options
    this.#fetch = createTimedFetch(options.fetch ?? ((input, init) => globalThis.fetch(input, init)), options.timeoutMs ?? NODE_REQUEST_TIMEOUT_MS)
    this.#keys = resolveAppKeys(options, options.random)
    this.#authorization = new TtlCache(options.clock)
  }

  /** The instance's TEE wallet, sent as `x-app-wallet`. */
  get wallet(): Wallet {
    return this.#keys.wallet
  }

  /**
   * The runtime's own authorization, cached 10 s (successes only, so that a registration
   * that lands is seen at once).
   * @throws KmsInstanceNotAuthorizedError, KmsRegistryUnavailableError.
   */
  async authorization(): Promise<RuntimeInstanceAuthorization> {
    const cached = this.#authorization.get('self')
    if (cached !== undefined) return cached
    const result = await this.#options.authorize()
    this.#authorization.set('self', result, AUTHORIZATION_TTL_MS)
    return result
  }

  /**
   * `POST /kms/derive` with `{path, context, length}`.
   * @throws KmsReservedPathError for a path under `wallet/eth/app/`, before any request.
   */
  async derive({ path, context = '', length = 32, epoch }: { path: string; context?: string; length?: number; epoch?: DeriveEpoch }): Promise<Uint8Array> {
    // With pinned epochs the answer must name them; without, this is exactly the runtime's call.
    if (epoch !== undefined) return (await this.deriveWithEpoch({ path, context, length, epoch })).key
    if (path.startsWith(RESERVED_DERIVE_PREFIX)) throw new KmsReservedPathError(RESERVED_DERIVE_PREFIX)
    return this.#call({ method: 'POST', path: '/kms/derive', inner: { path, context, length }, notFoundIsAnswer: false }, (result) => {
      const key = result.found && typeof result.answer['key'] === 'string' ? parseBase64(result.answer['key']) : undefined
      if (key === undefined || key.length !== length) throw unverified('derive answer has no key of the requested length')
      return key
    })
  }

  /**
   * {@link derive}, with the epochs the key was derived under (PROTOCOL §2.4, §7.7). `epoch`
   * pins the cluster and app key epochs (omitted: current); an answer for other epochs than
   * asked, or for another path, is a failure of that node.
   */
  async deriveWithEpoch({ path, context = '', length = 32, epoch }: { path: string; context?: string; length?: number; epoch?: DeriveEpoch }): Promise<{ key: Uint8Array; epoch: { cluster: number; app: number } }> {
    if (path.startsWith(RESERVED_DERIVE_PREFIX)) throw new KmsReservedPathError(RESERVED_DERIVE_PREFIX)
    // Without `epoch` the inner request is exactly the runtime's {path, context, length}.
    const inner = { path, context, length, ...(epoch === undefined ? {} : { epoch }) }
    return this.#call({ method: 'POST', path: '/kms/derive', inner, notFoundIsAnswer: false }, (result) => {
      const answer = result.found ? result.answer : {}
      const key = typeof answer['key'] === 'string' ? parseBase64(answer['key']) : undefined
      if (key === undefined || key.length !== length) throw unverified('derive answer has no key of the requested length')
      if (answer['path'] !== undefined && answer['path'] !== path) throw unverified('derive answer is for another path')
      const answered = parseDeriveEpoch(answer['epoch'])
      if (answered === undefined) throw unverified('derive answer does not name its epochs')
      if ((epoch?.cluster !== undefined && epoch.cluster !== answered.cluster) || (epoch?.app !== undefined && epoch.app !== answered.app)) {
        throw unverified('derive answer is for other epochs than asked')
      }
      return { key, epoch: answered }
    })
  }

  /** `GET /kms/data`: this app's live keys (PROTOCOL §2.5). */
  async kvList(): Promise<string[]> {
    return this.#call({ method: 'GET', path: '/kms/data', notFoundIsAnswer: false }, (result) => {
      const keys = result.found ? result.answer['keys'] : undefined
      if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) throw unverified('list answer has no key list')
      return keys as string[]
    })
  }

  /**
   * `POST /kms/sign_cert` (PROTOCOL §8.4–§8.6): a leaf for `csr` (PEM) from the cluster CA.
   * The answer is bound and encrypted like every `/kms/*` answer, so its `caCertificate` is
   * the CA an app can pin; {@link caCertificate} is the unauthenticated public copy.
   */
  async signCert(csr: string, options: { validitySeconds?: number } = {}): Promise<IssuedCertificate> {
    const inner = { csr, ...(options.validitySeconds === undefined ? {} : { validity_seconds: options.validitySeconds }) }
    return this.#call({ method: 'POST', path: '/kms/sign_cert', inner, notFoundIsAnswer: false }, (result) => {
      const answer = result.found ? result.answer : {}
      const { certificate, ca_certificate: caCertificate, serial } = answer
      if (typeof certificate !== 'string' || typeof caCertificate !== 'string' || typeof serial !== 'string') throw unverified('sign_cert answer has no certificates')
      return { certificate, caCertificate, serial }
    })
  }

  /**
   * `GET /kms/ca` (PROTOCOL §2.7) from the first verified node that answers: the serving
   * epoch's CA, its fingerprint checked here against the certificate. The route is public and
   * unsigned, so on a hostile network this is the host's word: pin the `caCertificate` of a
   * {@link signCert} answer instead.
   */
  async caCertificate(): Promise<{ pem: string; fingerprintSha256: string; epoch: number }> {
    const failures: KmsNodeFailure[] = []
    for (const node of await this.#options.directory.verifiedNodes()) {
      try {
        const response = await this.#fetch(`${node.url.replace(/\/+$/, '')}/kms/ca`)
        const answer: unknown = response.ok ? JSON.parse(await response.text()) : undefined
        const ca = parseCaAnswer(answer)
        if (ca !== undefined) return ca
        failures.push({ url: node.url, reason: response.ok ? 'answer is not a §2.7 CA whose fingerprint matches' : `node answered HTTP ${response.status}` })
      } catch (error) {
        if (!(error instanceof KmsNodeExchangeError) && !(error instanceof SyntaxError)) throw error
        failures.push({ url: node.url, reason: error.message })
      }
    }
    throw new KmsNodesUnavailableError(failures, 1)
  }

  /**
   * `GET /status` (PROTOCOL §2.1) of the first verified node that answers: for display and
   * diagnosis only, since it is unsigned and identity comes from the attestation check.
   */
  async status(): Promise<{ url: string; status: Record<string, unknown> }> {
    const failures: KmsNodeFailure[] = []
    for (const node of await this.#options.directory.verifiedNodes()) {
      try {
        const response = await this.#fetch(`${node.url.replace(/\/+$/, '')}/status`)
        const body: unknown = response.ok ? JSON.parse(await response.text()) : undefined
        if (typeof body === 'object' && body !== null && !Array.isArray(body)) return { url: node.url, status: body as Record<string, unknown> }
        failures.push({ url: node.url, reason: `node answered HTTP ${response.status}` })
      } catch (error) {
        if (!(error instanceof KmsNodeExchangeError) && !(error instanceof SyntaxError)) throw error
        failures.push({ url: node.url, reason: error.message })
      }
    }
    throw new KmsNodesUnavailableError(failures, 1)
  }

  /** Whether some node proved its identity and answers; never throws (a failure is `false`). */
  async isReachable(): Promise<boolean> {
    try {
      return (await this.#options.directory.verifiedNodes()).length > 0
    } catch {
      return false
    }
  }

  /**
   * One page of this app's audit chain (PROTOCOL §14.4), from a node with the same failover
   * and answer checks as every `/kms/*` call, then verified by `verifyAuditPage`: the signed
   * head against the node's registry wallet, every hash and sequence number. The chain is the
   * answering node's, for its current boot. Given the `previous` read's cursor, that node is
   * asked first, for what follows the cursor, and `continuity` says whether the chain
   * continued, restarted (a new boot), or lost entries to the node's bounds; a fork is an
   * error. Should another node answer, its chain is read from the start and is `first`: a
   * chain never continues across nodes (§14: each node records only what it served).
   * @throws AuditVerificationError when the page, or its continuity, does not verify: that is
   *   the node's signed word, so it is reported, never passed over for another node.
   * @throws KmsNodesUnavailableError when no node answered.
   */
  async audit(options: { previous?: NodeAuditCursor } = {}): Promise<NodeAuditPage> {
    const { appId } = await this.authorization()
    const { previous } = options
    const sinceFor = (node: DiscoveredKmsNode): number => (previous !== undefined && isSameNode(node, previous.node) ? previous.seq : 0)
    return this.#call(
      (node) => ({ method: 'GET', path: `/kms/audit?since=${sinceFor(node)}`, notFoundIsAnswer: false }),
      (result, node) => {
        const since = sinceFor(node)
        const continuing = previous !== undefined && isSameNode(node, previous.node)
        const page = verifyAuditPage({ page: result.found ? result.answer : {}, appId, since, node, ...(continuing ? { previous } : {}) })
        const answeredBy = { url: node.url, wallet: node.wallet }
        return { ...page, node: answeredBy, cursor: { ...page.cursor, node: answeredBy } }
      },
      previous?.node,
    )
  }

  /**
   * `GET /nodes` (PROTOCOL §2.2) of the first verified node that answers: its peer cache. The
   * route is public and unsigned, so this is that node's host's word, for display; each entry
   * says whether the SDK's own registry read lists the same wallet at the same URL.
   * @throws KmsNodesUnavailableError when no verified node gave a §2.2 answer.
   */
  async nodes(): Promise<{ url: string; nodes: KmsPeerListing[] }> {
    const failures: KmsNodeFailure[] = []
    const registered = await this.#options.directory.nodes()
    for (const node of await this.#options.directory.verifiedNodes()) {
      try {
        const response = await this.#fetch(`${node.url.replace(/\/+$/, '')}/nodes`)
        const listing = response.ok ? parsePeerListing(JSON.parse(await response.text()), registered) : undefined
        if (listing !== undefined) return { url: node.url, nodes: listing }
        failures.push({ url: node.url, reason: response.ok ? 'answer is not a §2.2 node list' : `node answered HTTP ${response.status}` })
      } catch (error) {
        if (!(error instanceof KmsNodeExchangeError) && !(error instanceof SyntaxError)) throw error
        failures.push({ url: node.url, reason: error.message })
      }
    }
    throw new KmsNodesUnavailableError(failures, 1)
  }

  /** {@link derive}, as a non-extractable WebCrypto key for `usage`; the raw bytes are zeroed once imported. */
  async deriveCryptoKey(params: { path: string; context?: string; length?: number }, usage: DerivedKeyUsage): Promise<CryptoKey> {
    return importDerivedKey(await this.derive(params), usage)
  }

  /** `GET /kms/data/<key>`, the key form-urlencoded (`/` → `%2F`, space → `+`). */
  async kvGet(key: string): Promise<KvGetResult> {
    return this.#call({ method: 'GET', path: `/kms/data/${encodeFormUrlComponent(key)}`, notFoundIsAnswer: true }, (result): KvGetResult => {
      if (!result.found) return { found: false }
      const value = typeof result.answer['value'] === 'string' ? parseBase64(result.answer['value']) : undefined
      if (value === undefined) throw unverified('data answer has no base64 value')
      return { found: true, value }
    })
  }

  /** `PUT /kms/data` with `{key, value, ttl_ms}`. */
  async kvPut(key: string, value: Uint8Array, ttlMs = 0): Promise<void> {
    await this.#call({ method: 'PUT', path: '/kms/data', inner: { key, value: bytesToBase64(value), ttl_ms: ttlMs }, notFoundIsAnswer: false }, () => undefined)
  }

  /** `DELETE /kms/data` with `{key}`; a key that was not there is reported, not thrown. */
  async kvDelete(key: string): Promise<{ deleted: boolean }> {
    return this.#call({ method: 'DELETE', path: '/kms/data', inner: { key }, notFoundIsAnswer: true }, (result) => ({ deleted: result.found }))
  }

  /**
   * Authorization, then up to 3 rounds over the candidate nodes, 150 ms apart (`prefer`, when
   * it is a candidate, first). A node's final refusal (4xx) ends the call; any other failure
   * moves on to the next node. `exchange` may depend on the node it is sent to.
   * @throws KmsNodesUnavailableError when every attempt failed.
   */
  async #call<T>(
    exchange: Exchange | ((node: DiscoveredKmsNode) => Exchange),
    read: (result: ExchangeResult, node: DiscoveredKmsNode) => T,
    prefer?: { url: string; wallet: Wallet },
  ): Promise<T> {
    await this.authorization()
    const failures: KmsNodeFailure[] = []
    for (let round = 0; round < CALL_ROUNDS; round++) {
      if (round > 0) await this.#options.sleep(ROUND_DELAY_MS)
      const candidates = await this.#options.directory.candidates()
      const ordered = prefer === undefined ? candidates : [...candidates.filter((node) => isSameNode(node, prefer)), ...candidates.filter((node) => !isSameNode(node, prefer))]
      for (const node of ordered) {
        try {
          return read(await this.#exchange(node, typeof exchange === 'function' ? exchange(node) : exchange), node)
        } catch (error) {
          const failure = asNodeFailure(error)
          if (failure === undefined) throw error
          failures.push({ url: node.url, reason: failure.message })
          if (failure.kind === 'transport') this.#options.directory.markUnreachable(node)
          // RUNTIME.md §1: a missing or bad signature invalidates the node's identity cache.
          if (failure.kind === 'unverified') this.#options.directory.invalidateIdentity(node)
        }
      }
    }
    throw new KmsNodesUnavailableError(failures, CALL_ROUNDS)
  }

  async #exchange(node: DiscoveredKmsNode, { method, path, inner, notFoundIsAnswer }: Exchange): Promise<ExchangeResult> {
    const client = new KmsClient({
      node: { url: node.url, wallet: node.wallet, teePubkeyDer: node.teePubkeyDer },
      signer: this.#keys.signer,
      envelopeKey: this.#keys.envelopeKey,
      clock: this.#options.clock,
      random: this.#options.random,
      fetch: this.#fetch,
      envelopeInfo: RUNTIME_ENVELOPE_INFO,
      bindingVersion: this.#options.bindingVersion ?? 1,
    })
    const body = inner === undefined ? undefined : JSON.stringify(await client.sealRequest(inner))
    const { headers, signatureSubject } = await client.authHeaders({ method, path, body })
    const response = await this.#fetch(`${node.url.replace(/\/+$/, '')}${path}`, {
      method,
      // RUNTIME.md §1: lowercase headers, and content-type only when there is a body.
      headers: { ...headers, 'x-app-wallet': this.#keys.wallet, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body }),
    })
    const text = await response.text()
    if (client.bindingVersion === 2) return this.#openBound(client, node, response, text, signatureSubject, notFoundIsAnswer)
    if (!response.ok) {
      if (notFoundIsAnswer && (response.status === 404 || text.toLowerCase().includes('key not found'))) return { found: false }
      if (response.status >= 500 || response.status === 429) throw new KmsNodeExchangeError('unavailable', `node answered HTTP ${response.status}`)
      const { code, message } = errorBody(text)
      throw new KmsRequestRejectedError(response.status, code, message)
    }
    checkRecoveryId(response.headers.get('x-kms-response-signature'))
    const answer = await client.openResponse(new Response(text, { status: response.status, headers: response.headers }), signatureSubject)
    this.#refuseReplayedAnswer(node, text)
    return { found: true, answer }
  }

  /**
   * Binding v2: nothing in the answer, not even its status, is believed before its binding
   * verifies; an unbound answer is a failure of this node (tried again elsewhere), never a
   * not-found.
   */
  async #openBound(client: KmsClient, node: DiscoveredKmsNode, response: Response, text: string, subject: string, notFoundIsAnswer: boolean): Promise<ExchangeResult> {
    try {
      const answer = await client.openResponse(new Response(text, { status: response.status, headers: response.headers }), subject)
      this.#refuseReplayedAnswer(node, text)
      return { found: true, answer }
    } catch (error) {
      if (!(error instanceof KmsClientError) || error.status === 0) throw error
      if (notFoundIsAnswer && error.status === 404) return { found: false }
      if (error.status >= 500 || error.status === 429) throw new KmsNodeExchangeError('unavailable', `node answered HTTP ${error.status}`)
      throw new KmsRequestRejectedError(error.status, error.code, error.message)
    }
  }

  /** Called only after the answer opened, so a forged envelope cannot burn a pair. */
  #refuseReplayedAnswer(node: DiscoveredKmsNode, text: string): void {
    const envelope = JSON.parse(text) as Record<string, unknown>
    const nonce = typeof envelope['nonce'] === 'string' ? parseHex(envelope['nonce']) : undefined
    // openResponse has checked that the sender is this node's registry key.
    const sender = parseP384PublicKey(node.teePubkeyDer)
    if (nonce === undefined || sender === undefined) throw unverified('answer envelope is malformed')
    if (!this.#answers.remember(sender.der, nonce)) throw unverified('answer envelope replayed')
  }
}
