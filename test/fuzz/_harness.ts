/**
 * The in-process fuzz harness (issue 12, "authenticated fuzzing"): a real dev-mode `KmsNode`
 * against anvil and the real contracts, served by `createPipeline(ALL_FUNCTIONS)` through
 * `app.fetch` (no HTTP server), registered on-chain and ticked until it is available; SDK
 * clients for registered apps that can also seal an inner payload that is not canonical JSON
 * (floats, `1e309`, lone-surrogate escapes, duplicate keys, deep nesting); and a tally of
 * every answer, in which a 5xx other than the designed 503s is a failure.
 *
 * @module
 */
import type { Context } from 'hono'
import type { Address, Hex } from 'viem'
import { KmsClient, KmsClientError } from '../../core/client'
import { encryptEnvelope, ENVELOPE_INFO_CURRENT, parseP384PublicKey, type P384PrivateKey } from '../../core/crypto'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { KmsNode } from '../../core/node'
import { runDueTicks } from '../../core/nodeTicks'
import type { Clock, Random } from '../../core/runtime'
import { ALL_FUNCTIONS, createPipeline } from '../../functions'
import { webCryptoRandom } from '../../functions/_runtime'
import type { DevChain } from '../helpers/devChain'
import type { TestApp } from '../helpers/kmsNodes'

/** The fixed seed CI uses; `FUZZ_SEED` overrides it. */
export const DEFAULT_FUZZ_SEED = 20_261_212

export function fuzzSeed(): number {
  const text = process.env['FUZZ_SEED']
  if (text === undefined || text.trim() === '') return DEFAULT_FUZZ_SEED
  const seed = Number(text)
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, got ${JSON.stringify(text)}`)
  return seed | 0
}

export const MASTER_SECRET_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'

export const systemClock: Clock = { nowMs: () => Date.now() }

/** The wall clock, which a test can hold still (so that TTLs cannot expire between two reads). */
export class PausableClock implements Clock {
  #frozenAt: number | undefined
  nowMs(): number {
    return this.#frozenAt ?? Date.now()
  }
  freeze(): void {
    this.#frozenAt = Date.now()
  }
  resume(): void {
    this.#frozenAt = undefined
  }
}
export const random: Random = webCryptoRandom

/** The URL the node is registered with; nothing listens there, requests go to `app.fetch`. */
export const NODE_URL = 'http://kms-fuzz.test'

export interface InProcessNode {
  node: KmsNode
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
  instanceId: number
  /** The pipeline, in process. */
  fetch: typeof fetch
}

export interface StartOptions {
  env?: Record<string, string>
  clock?: Clock
  /** The socket address the per-client limiters see (default: none, as in process). */
  socketAddress?: (c: Context) => string | undefined
  /** The node's own outbound fetch for URLs other than the chain (peers); default: a 503. */
  peerFetch?: typeof fetch
  /** The instanceUrl to register (default `NODE_URL`). */
  instanceUrl?: string
}

/** A dev-mode node in process, registered as a KMS instance and ticked until available. */
export async function startInProcessNode(chain: DevChain, options: StartOptions = {}): Promise<InProcessNode> {
  const clock = options.clock ?? systemClock
  const rpcOrigin = new URL(chain.rpcUrl).origin
  const outbound: typeof fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input)
    if (url.startsWith(rpcOrigin)) return globalThis.fetch(input, init)
    if (options.peerFetch !== undefined) return options.peerFetch(input, init)
    return Promise.resolve(new Response('{"code":"service_unavailable","message":"no peer here"}', { status: 503 }))
  }
  const node = await KmsNode.create({
    env: {
      IN_ENCLAVE: 'false',
      LOG_LEVEL: 'ERROR',
      MASTER_SECRET_HEX,
      NODE_URL: chain.rpcUrl,
      NOVA_APP_REGISTRY_ADDRESS: chain.addresses.novaAppRegistry,
      KMS_REGISTRY_ADDRESS: chain.addresses.kmsRegistry,
      KMS_APP_ID: String(chain.addresses.kmsAppId),
      ...options.env,
    },
    clock,
    random,
    sleep: async () => undefined,
    fetch: outbound,
    writeLog: (level, message, fields) => {
      if (level === 'error') errorLog.push(`${message} ${JSON.stringify(fields ?? {})}`)
    },
    version: '0.0.0-fuzz',
  })
  const wallet = node.wallet!
  const teePubkeyDer = await node.tee.getEncryptionPublicKey()
  await chain.fund(wallet as Address)
  const instanceId = await chain.registerInstance({
    teeWalletAddress: wallet as Address,
    teePubkey: `0x${bytesToHex(teePubkeyDer)}` as Hex,
    instanceUrl: options.instanceUrl ?? NODE_URL,
  })
  const app = createPipeline(ALL_FUNCTIONS, {
    nodeProvider: async () => node,
    ...(options.socketAddress === undefined ? {} : { socketAddress: options.socketAddress }),
  })
  const fetchInProcess: typeof fetch = async (input, init) => {
    const request = new Request(input, init)
    const response = await app.fetch(request)
    await checkWire(request, response)
    return response
  }
  await tickUntilAvailable(node)
  return { node, url: options.instanceUrl ?? NODE_URL, wallet, teePubkeyDer, instanceId, fetch: fetchInProcess }
}

/** Every answer the pipeline gave, by status, and every answer that broke §12.4. */
export const wire = {
  byStatus: new Map<number, number>(),
  /** Non-2xx answers whose body is not exactly `{"code": str, "message": str}`. */
  shapeViolations: [] as string[],
  /** 5xx answers other than the designed 503s. */
  undesigned5xx: [] as string[],
}

async function checkWire(request: Request, response: Response): Promise<void> {
  wire.byStatus.set(response.status, (wire.byStatus.get(response.status) ?? 0) + 1)
  if (response.status < 300) return
  const text = await response.clone().text()
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    body = undefined
  }
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined
  const shaped = fields !== undefined && typeof fields['code'] === 'string' && typeof fields['message'] === 'string' && Object.keys(fields).length === 2
  const where = `${request.method} ${request.url.length > 200 ? `${request.url.slice(0, 200)}…` : request.url} -> ${response.status} ${text.slice(0, 300)}`
  if (!shaped) wire.shapeViolations.push(where)
  if (response.status >= 500 && !(response.status === 503 && shaped && DESIGNED_503_CODES.has(fields['code'] as string))) wire.undesigned5xx.push(where)
}

/** Lines the node logged at ERROR (an unhandled error is logged there before its 500). */
export const errorLog: string[] = []

export async function tickUntilAvailable(node: KmsNode, attempts = 10): Promise<void> {
  for (let attempt = 0; attempt < attempts && !node.readiness.available; attempt++) await runDueTicks(node, 'node_tick')
  if (!node.readiness.available) throw new Error(`node not available after ${attempts} ticks: ${node.readiness.reason}`)
}

/** An inner plaintext sealed as it is, not as canonical JSON: any text at all. */
export class RawInner {
  constructor(readonly text: string) {}
}

/**
 * The SDK client, with one addition: an inner payload given as `RawInner` is sealed verbatim,
 * so that the node sees JSON the canonical writer would refuse to produce. Everything else
 * (PoP over the request digest, binding v2, answer checks) is the SDK's own.
 */
export class FuzzClient extends KmsClient {
  readonly #teeKey: P384PrivateKey
  readonly #nodeKeyDer: Uint8Array

  constructor(options: ConstructorParameters<typeof KmsClient>[0] & { teeKey: P384PrivateKey }) {
    super(options)
    this.#teeKey = options.teeKey
    this.#nodeKeyDer = options.node.teePubkeyDer
  }

  override async sealRequest(inner: unknown): Promise<{ sender_tee_pubkey: string; nonce: string; encrypted_data: string }> {
    if (!(inner instanceof RawInner)) return super.sealRequest(inner)
    const nonce = random.bytes(12)
    const ciphertext = await encryptEnvelope({
      privateKey: this.#teeKey,
      peerPublicKey: parseP384PublicKey(this.#nodeKeyDer)!,
      nonce,
      plaintext: inner.text,
      info: ENVELOPE_INFO_CURRENT,
    })
    return { sender_tee_pubkey: bytesToHex(this.#teeKey.publicKey.der), nonce: bytesToHex(nonce), encrypted_data: bytesToHex(ciphertext) }
  }
}

export function fuzzClient(target: InProcessNode, app: TestApp, clock: Clock = systemClock): FuzzClient {
  return new FuzzClient({
    node: { url: target.url, wallet: target.wallet, teePubkeyDer: target.teePubkeyDer },
    walletKey: app.walletKey,
    teeKey: app.teeKey,
    clock,
    random,
    fetch: target.fetch,
  })
}

/** The statuses of answers, as the node sent them. */
export interface Tally {
  cases: number
  ok2xx: number
  client4xx: number
  designed503: number
  other5xx: number
  /** Outcomes that are neither of the above (a thrown non-KmsClientError, a 1xx/3xx, a client-side check). */
  other: number
  byStatus: Map<string, number>
}

export function newTally(): Tally {
  return { cases: 0, ok2xx: 0, client4xx: 0, designed503: 0, other5xx: 0, other: 0, byStatus: new Map() }
}

/** The 503s the protocol designs (§12.4): not ready, a helper or registry failure, admission. */
const DESIGNED_503_CODES = new Set(['service_unavailable', 'registry_unavailable'])

/** What the pipeline answers before a route authenticates anyone (§2 steps 1–3): unbound by design. */
const PRE_AUTH_CODES = new Set(['not_found', 'method_not_allowed', 'payload_too_large', 'rate_limited'])

export type Outcome =
  | { kind: '2xx'; status: number }
  | { kind: '4xx'; status: number; code: string; message: string; unbound?: true }
  | { kind: 'designed503'; code: string; message: string }
  | { kind: 'bad'; why: string; status?: number; code?: string; message?: string }

/**
 * Classifies the outcome of one SDK call. A bound error answer is a `KmsClientError` with the
 * node's status, code and message; every request here is authenticated, so every answer must
 * be bound (an unbound one is a finding too).
 */
export function classify(result: { ok: true } | { ok: false; error: unknown }): Outcome {
  if (result.ok) return { kind: '2xx', status: 200 }
  const { error } = result
  if (!(error instanceof KmsClientError)) {
    return { kind: 'bad', why: `threw ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error)}` }
  }
  const { status, code, message } = error
  if (status >= 400 && status < 500 && code !== '' && typeof message === 'string') return { kind: '4xx', status, code, message }
  if (status === 503 && DESIGNED_503_CODES.has(code)) return { kind: 'designed503', code, message }
  const claim = error.unverified
  // Routing and the body limit answer before authentication (§2 steps 2–3), so unbound: a
  // path that normalises out of /kms/data (`/kms/data/../derive`) is a 405, for instance.
  if (status === 0 && code === 'unbound_response' && claim !== undefined && PRE_AUTH_CODES.has(claim.code) && claim.status >= 400 && claim.status < 500) {
    return { kind: '4xx', status: claim.status, code: claim.code, message: claim.message, unbound: true }
  }
  if (status === 0) return { kind: 'bad', why: `client-side ${code}: ${message}`, ...(claim === undefined ? {} : claim) }
  return { kind: 'bad', why: `status ${status}`, status, code, message }
}

export function record(tally: Tally, outcome: Outcome, label: string): void {
  tally.cases++
  const key =
    outcome.kind === '2xx'
      ? `${label} 2xx`
      : outcome.kind === '4xx'
        ? `${label} ${outcome.status} ${outcome.code}${outcome.unbound === true ? ' (unbound, before auth)' : ''}`
        : `${label} ${outcome.kind}`
  tally.byStatus.set(key, (tally.byStatus.get(key) ?? 0) + 1)
  if (outcome.kind === '2xx') tally.ok2xx++
  else if (outcome.kind === '4xx') tally.client4xx++
  else if (outcome.kind === 'designed503') tally.designed503++
  else if (outcome.status !== undefined && outcome.status >= 500) tally.other5xx++
  else tally.other++
}

/** Runs `call` and returns its classified outcome. */
export async function outcomeOf(call: () => Promise<unknown>): Promise<Outcome> {
  try {
    await call()
    return classify({ ok: true })
  } catch (error) {
    return classify({ ok: false, error })
  }
}

/** Runs `task` over `items` with at most `limit` in flight; `lane` (0..limit-1) runs one at a time. */
export async function inPool<T, R>(items: readonly T[], limit: number, task: (item: T, lane: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async (lane: number): Promise<void> => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!, lane)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, (_, lane) => worker(lane)))
  return results
}

/** `n` copies of the unit `unit`, so that `utf8Length` is `n * bytes(unit)`. */
export function repeatTo(unit: string, count: number): string {
  return unit.repeat(Math.max(0, count))
}
