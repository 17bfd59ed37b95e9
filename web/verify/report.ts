/**
 * What the page finds out about one KMS node or one pasted document, without touching the
 * DOM: the node's answers (`/attestation` with a fresh nonce, `/kms/ca`, `/status`), the
 * verifier's verdict, the document's fields (decoded without trust, so a rejected document
 * can still be read), and the registry comparison of PROTOCOL §2.9's client check, read
 * from the chain through the JSON-RPC URL.
 *
 * Everything a node or the RPC sends is untrusted: it is bounded in size and time, and
 * returned as plain data for render.ts to show as text.
 */
import {
  ATTESTATION_ERROR_DESCRIPTIONS,
  codeMeasurement,
  decodeAttestationText,
  decodeNitroAttestationUnverified,
  describeBytes,
  detectAttestationFormat,
  isAttestationError,
  summarizeCertificate,
  verifyNitroAttestation,
  type AttestationErrorCode,
  type CertificateSummary,
  type DescribedBytes,
  type NitroAttestation,
} from '../../core/attestation'
import { isPeerAttestationError } from '../../core/auth/peerAttestationError'
import { verifyResponderAttestation } from '../../core/auth/verifyPeerAttestation'
import { INSTANCE_STATUS, VERSION_STATUS } from '../../core/chain'
import { isSameP384PublicKey } from '../../core/crypto/p384PublicKey'
import { bytesEqual, bytesToBase64, bytesToHex, parseUtf8, parseWallet, type Wallet } from '../../core/encoding'
import { readKmsRegistryFacts, type RegistryFacts } from './chain'

/** How long the page waits for one answer of a node. */
const NODE_TIMEOUT_MS = 10_000
/** An `/attestation` answer is a few kB; anything near this is not a KMS node. */
const NODE_ANSWER_MAX_BYTES = 256 * 1024
/** The nonce the page sends (PROTOCOL §2.9 accepts 16..64 bytes). */
const NONCE_BYTES = 32
/** The bound a KMS node itself puts on a peer's document (ATTESTATION_MAX_AGE_SECONDS' default). */
const PEER_MAX_AGE_MS = 300_000

/** Which root the document must chain to. */
export type Trust = { kind: 'aws' } | { kind: 'dev'; rootDer: Uint8Array }

export interface VerifyOptions {
  trust: Trust
  /** Where to read the registry; `undefined` when the page has no RPC URL or KMSRegistry address. */
  chain: { rpcUrl: string; kmsRegistry: Wallet } | undefined
}

export type CheckResult = 'match' | 'mismatch'

/** One row of the registry comparison. */
export interface Check {
  id: 'registered' | 'app' | 'instance-status' | 'zk-verified' | 'version-status' | 'wallet' | 'tee-pubkey' | 'code-measurement' | 'peer-check' | 'instance-url'
  label: string
  /** What the chain says. */
  registry: string
  /** What the document (or the page) says. */
  document: string
  result: CheckResult
  /** A row that informs but does not decide the verdict. */
  note?: boolean
}

export interface DocumentFields {
  size: number
  moduleId: string
  timestamp: number
  digest: string
  /** Every PCR of the document, in index order. */
  pcrs: { index: number; hex: string }[]
  /** keccak256(PCR0‖PCR1‖PCR2) as 0x-hex, when the three are present. */
  measurement: string | undefined
  publicKey: DescribedBytes | null
  userData: DescribedBytes | null
  /** `user_data.eth_addr` as written, when user_data is a JSON object that has it. */
  ethAddr: string | undefined
  nonce: DescribedBytes | null
  certificate: CertificateSummary | { error: AttestationErrorCode }
  cabundle: (CertificateSummary | { error: AttestationErrorCode })[]
}

export type Verdict = 'VALID' | 'REJECTED' | 'INCOMPLETE'

export interface CaAnswer {
  fingerprint: string
  epoch: number | undefined
  /** During a rotation's grace period, the previous epoch's CA (PROTOCOL §2.7). */
  previous: { fingerprint: string; epoch: number | undefined } | undefined
}

export interface Report {
  source: { kind: 'url'; url: string; nonceBase64: string } | { kind: 'pasted'; format: string }
  trust: Trust['kind']
  verifiedAt: number
  /** The verifier's verdict on the document alone (root, chain, signature, freshness, nonce). */
  attestation: { valid: true } | { valid: false; code: string; description: string }
  /** Whether the nonce was checked: only a document fetched by the page for its own nonce. */
  nonceChecked: boolean
  fields: DocumentFields | undefined
  registry: { state: 'read'; facts: RegistryFacts; checks: Check[] } | { state: 'unavailable'; reason: string } | { state: 'not configured' }
  /** `GET /kms/ca` (URL checks only). */
  ca: { state: 'read'; answer: CaAnswer } | { state: 'failed'; reason: string } | undefined
  /** `GET /status`'s `node` object, informative (URL checks only). */
  status: { mode: string; version: string; serviceAvailable: boolean; unavailableReason: string } | undefined
  verdict: Verdict
  /** Why the verdict is not VALID, one line each. */
  reasons: string[]
}

/** A node URL as typed, checked and without a trailing slash; `undefined` when it is not http(s). */
export function normalizeNodeUrl(text: string): string | undefined {
  let url: URL
  try {
    url = new URL(text.trim())
  } catch {
    return undefined
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') return undefined
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

class NodeAnswerError extends Error {}

/** Reads at most `limit` bytes of a body, cancelling the rest. */
async function readBoundedText(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader()
  if (reader === undefined) return ''
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > limit) {
      await reader.cancel().catch(() => undefined)
      throw new NodeAnswerError(`the answer is larger than ${limit} bytes`)
    }
    chunks.push(value)
  }
  const bytes = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return new TextDecoder().decode(bytes)
}

/** GET `url` and parse its JSON object; any failure is a NodeAnswerError with a short reason. */
async function getNodeJson(url: string): Promise<Record<string, unknown>> {
  let response: Response
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(NODE_TIMEOUT_MS), redirect: 'error', credentials: 'omit', cache: 'no-store' })
  } catch (error) {
    const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${NODE_TIMEOUT_MS / 1000} s` : 'the request failed (unreachable, refused, a redirect, or no CORS)'
    throw new NodeAnswerError(reason)
  }
  const text = await readBoundedText(response, NODE_ANSWER_MAX_BYTES)
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new NodeAnswerError(`HTTP ${response.status}, not JSON`)
  }
  const object = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined
  if (!response.ok) {
    const error = object?.['error']
    const message = typeof error === 'object' && error !== null && 'message' in error ? String(error.message) : ''
    throw new NodeAnswerError(`HTTP ${response.status}${message === '' ? '' : `: ${message.slice(0, 200)}`}`)
  }
  if (object === undefined) throw new NodeAnswerError('the answer is not a JSON object')
  return object
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]!.slice(0, 300) : String(error)
}

function fingerprintOf(value: unknown): string | undefined {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value) ? value : undefined
}

async function readCa(nodeUrl: string): Promise<NonNullable<Report['ca']>> {
  try {
    const body = await getNodeJson(`${nodeUrl}/kms/ca`)
    const fingerprint = fingerprintOf(body['fingerprint_sha256'])
    if (fingerprint === undefined) return { state: 'failed', reason: 'fingerprint_sha256 is not 64 hex digits' }
    const epochOf = (value: unknown): number | undefined => (typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined)
    const previous = body['previous']
    const previousFingerprint = typeof previous === 'object' && previous !== null ? fingerprintOf((previous as Record<string, unknown>)['fingerprint_sha256']) : undefined
    return {
      state: 'read',
      answer: {
        fingerprint,
        epoch: epochOf(body['epoch']),
        previous: previousFingerprint === undefined ? undefined : { fingerprint: previousFingerprint, epoch: epochOf((previous as Record<string, unknown>)['epoch']) },
      },
    }
  } catch (error) {
    return { state: 'failed', reason: errorText(error) }
  }
}

async function readStatus(nodeUrl: string): Promise<Report['status']> {
  try {
    const node = (await getNodeJson(`${nodeUrl}/status`))['node']
    if (typeof node !== 'object' || node === null) return undefined
    const fields = node as Record<string, unknown>
    const text = (value: unknown): string => (typeof value === 'string' ? value.slice(0, 200) : '')
    return { mode: text(fields['mode']), version: text(fields['version']), serviceAvailable: fields['service_available'] === true, unavailableReason: text(fields['unavailable_reason']) }
  } catch {
    return undefined
  }
}

function userDataObject(attestation: NitroAttestation): Record<string, unknown> | undefined {
  const text = attestation.userData === null ? undefined : parseUtf8(attestation.userData)
  if (text === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

function measurementOf(pcrs: ReadonlyMap<number, Uint8Array>): Uint8Array | undefined {
  try {
    return codeMeasurement(pcrs)
  } catch {
    return undefined // PCR0-2 missing or not 48 bytes: the verifier rejects such a document
  }
}

function fieldsOf(attestation: NitroAttestation, size: number): DocumentFields {
  const measurement = measurementOf(attestation.pcrs)
  const ethAddr = userDataObject(attestation)?.['eth_addr']
  return {
    size,
    moduleId: attestation.moduleId,
    timestamp: attestation.timestamp,
    digest: attestation.digest,
    pcrs: [...attestation.pcrs].map(([index, pcr]) => ({ index, hex: bytesToHex(pcr) })),
    measurement: measurement === undefined ? undefined : `0x${bytesToHex(measurement)}`,
    publicKey: describeBytes(attestation.publicKey),
    userData: describeBytes(attestation.userData),
    ethAddr: typeof ethAddr === 'string' ? ethAddr : undefined,
    nonce: describeBytes(attestation.nonce),
    certificate: summarizeCertificate(attestation.certificate),
    cabundle: attestation.cabundle.map(summarizeCertificate),
  }
}

function statusName(names: Readonly<Record<string, number>>, status: number): string {
  return Object.entries(names).find(([, value]) => value === status)?.[0] ?? `unknown (${status})`
}

function hex(bytes: Uint8Array): string {
  return bytes.length === 0 ? '(empty)' : `0x${bytesToHex(bytes)}`
}

/** PROTOCOL §2.9's client check and the instance's standing, row by row. */
function compare(facts: RegistryFacts, attestation: NitroAttestation, nodeUrl: string | undefined): Check[] {
  const { instance, version, kmsAppId } = facts
  const wallet = userDataObject(attestation)?.['eth_addr']
  const documentWallet = typeof wallet === 'string' ? wallet : '(no user_data.eth_addr)'
  const measurement = measurementOf(attestation.pcrs)
  const publicKey = attestation.publicKey
  const absent = instance === undefined ? 'no instance with this wallet' : undefined
  const checks: Check[] = [
    { id: 'registered', label: 'Registered instance', registry: absent ?? `instance ${instance!.instanceId}`, document: documentWallet, result: instance === undefined ? 'mismatch' : 'match' },
    {
      id: 'wallet',
      label: 'TEE wallet (registry teeWalletAddress vs user_data.eth_addr)',
      registry: instance?.teeWalletAddress ?? absent!,
      document: documentWallet,
      result: instance !== undefined && typeof wallet === 'string' && parseWallet(wallet) === instance.teeWalletAddress ? 'match' : 'mismatch',
    },
    {
      id: 'tee-pubkey',
      label: 'TEE public key (registry teePubkey vs document public_key)',
      registry: instance === undefined ? absent! : hex(instance.teePubkey),
      document: publicKey === null ? '(none)' : hex(publicKey),
      result: instance !== undefined && publicKey !== null && isSameP384PublicKey(publicKey, instance.teePubkey) ? 'match' : 'mismatch',
    },
    {
      id: 'code-measurement',
      label: 'Code measurement (version codeMeasurement vs keccak256(PCR0‖PCR1‖PCR2))',
      registry: version === undefined ? (instance === undefined ? absent! : `no version ${instance.versionId}`) : hex(version.codeMeasurement),
      document: measurement === undefined ? '(PCR0-2 missing)' : hex(measurement),
      result: version !== undefined && measurement !== undefined && bytesEqual(version.codeMeasurement, measurement) ? 'match' : 'mismatch',
    },
    {
      id: 'app',
      label: 'App (instance appId vs KMSRegistry kmsAppId)',
      registry: instance === undefined ? absent! : `app ${instance.appId}`,
      document: `KMS app ${kmsAppId}`,
      result: instance?.appId === kmsAppId ? 'match' : 'mismatch',
    },
    {
      id: 'instance-status',
      label: 'Instance status',
      registry: instance === undefined ? absent! : statusName(INSTANCE_STATUS, instance.status),
      document: 'ACTIVE expected',
      result: instance?.status === INSTANCE_STATUS.ACTIVE ? 'match' : 'mismatch',
    },
    {
      id: 'zk-verified',
      label: 'zkVerified',
      registry: instance === undefined ? absent! : String(instance.zkVerified),
      document: 'true expected',
      result: instance?.zkVerified === true ? 'match' : 'mismatch',
    },
    {
      id: 'version-status',
      label: 'Version status',
      registry: version === undefined ? (instance === undefined ? absent! : `no version ${instance.versionId}`) : `v${version.versionId} ${version.versionName === '' ? '' : `"${version.versionName}" `}${statusName(VERSION_STATUS, version.status)}`,
      document: 'ENROLLED or DEPRECATED expected',
      result: version !== undefined && (version.status === VERSION_STATUS.ENROLLED || version.status === VERSION_STATUS.DEPRECATED) ? 'match' : 'mismatch',
    },
  ]
  if (nodeUrl !== undefined && instance !== undefined) {
    const registered = normalizeNodeUrl(instance.instanceUrl) ?? instance.instanceUrl
    // A node may be reached through another name (localhost, a proxy): shown, not judged.
    checks.push({ id: 'instance-url', label: 'Registered URL (informative)', registry: instance.instanceUrl, document: nodeUrl, result: registered === nodeUrl ? 'match' : 'mismatch', note: true })
  }
  return checks
}

/** The node's own check of a responder (PROTOCOL §4.5), run on the same document and registry facts. */
async function peerCheck(document: Uint8Array, nonce: Uint8Array, facts: RegistryFacts, trust: Trust, at: number): Promise<Check> {
  const row = { id: 'peer-check', label: 'The check a KMS peer makes (PROTOCOL §4.5)', registry: 'verifyResponderAttestation' } as const
  const { instance, version } = facts
  if (instance === undefined || version === undefined) return { ...row, document: 'not run: no registry entry', result: 'mismatch' }
  try {
    await verifyResponderAttestation({
      document,
      nonce,
      peer: { wallet: instance.teeWalletAddress, teePubkeyDer: instance.teePubkey, version: { status: version.status, codeMeasurement: version.codeMeasurement } },
      policy: { at, maxAgeMs: PEER_MAX_AGE_MS, trustedRoot: trust.kind === 'dev' ? trust.rootDer : undefined, allowDebugMode: trust.kind === 'dev' },
    })
    return { ...row, document: 'passed', result: 'match' }
  } catch (error) {
    if (!isPeerAttestationError(error)) throw error
    return { ...row, document: `failed: ${error.check}`, result: 'mismatch' }
  }
}

async function inspect(
  document: Uint8Array,
  source: Report['source'],
  options: VerifyOptions,
  nonce: Uint8Array | undefined,
  node: { ca: Promise<Report['ca']>; status: Promise<Report['status']> } | undefined,
): Promise<Report> {
  const at = Date.now()
  const { trust } = options
  let attestation: Report['attestation']
  try {
    await verifyNitroAttestation(document, {
      at,
      ...(nonce === undefined ? {} : { expectedNonce: nonce }),
      // Dev documents have zero PCRs; the pinned AWS root never accepts debug mode.
      allowDebugMode: trust.kind === 'dev',
      ...(trust.kind === 'dev' ? { trustedRoot: trust.rootDer } : {}),
    })
    attestation = { valid: true }
  } catch (error) {
    if (!isAttestationError(error)) throw error
    attestation = { valid: false, code: error.attestationCode, description: ATTESTATION_ERROR_DESCRIPTIONS[error.attestationCode] }
  }
  let decoded: NitroAttestation | undefined
  try {
    decoded = decodeNitroAttestationUnverified(document)
  } catch (error) {
    if (!isAttestationError(error)) throw error // the verdict already names the failure
  }

  const reasons: string[] = []
  if (!attestation.valid) reasons.push(`The attestation document is rejected: ${attestation.code} (${attestation.description}).`)
  let registry: Report['registry']
  if (options.chain === undefined) {
    registry = { state: 'not configured' }
    reasons.push('The registry was not read: set the JSON-RPC URL and the KMSRegistry address.')
  } else if (decoded === undefined) {
    registry = { state: 'unavailable', reason: 'the document cannot be decoded, so it names no wallet to look up' }
  } else {
    const wallet = userDataObject(decoded)?.['eth_addr']
    try {
      const facts = await readKmsRegistryFacts({ ...options.chain, wallet: typeof wallet === 'string' ? parseWallet(wallet) : undefined })
      const checks = compare(facts, decoded, source.kind === 'url' ? source.url : undefined)
      if (nonce !== undefined) checks.push(await peerCheck(document, nonce, facts, trust, at))
      registry = { state: 'read', facts, checks }
      for (const check of checks) {
        if (check.result !== 'mismatch' || check.note === true) continue
        reasons.push(check.id === 'peer-check' ? `${check.label} ${check.document}.` : `Registry mismatch: ${check.label}: the registry says ${check.registry}, the document ${check.document}.`)
      }
    } catch (error) {
      registry = { state: 'unavailable', reason: errorText(error) }
      reasons.push(`The registry could not be read: ${errorText(error)}.`)
    }
  }
  const [ca, status] = node === undefined ? [undefined, undefined] : await Promise.all([node.ca, node.status])

  const rejected = !attestation.valid || (registry.state === 'read' && registry.checks.some((check) => check.result === 'mismatch' && check.note !== true))
  return {
    source,
    trust: trust.kind,
    verifiedAt: at,
    attestation,
    nonceChecked: nonce !== undefined,
    fields: decoded === undefined ? undefined : fieldsOf(decoded, document.length),
    registry,
    ca,
    status,
    verdict: rejected ? 'REJECTED' : registry.state === 'read' ? 'VALID' : 'INCOMPLETE',
    reasons,
  }
}

/**
 * The URL check: a fresh random nonce, the node's `/attestation` for it, and (in parallel)
 * its `/kms/ca` and `/status`.
 * @throws NodeAnswerError when the node gives no document (the caller shows the reason).
 */
export async function verifyNodeUrl(nodeUrl: string, options: VerifyOptions): Promise<Report> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES))
  const nonceBase64 = bytesToBase64(nonce)
  const ca = readCa(nodeUrl)
  const status = readStatus(nodeUrl)
  let text: unknown
  try {
    text = (await getNodeJson(`${nodeUrl}/attestation?nonce=${encodeURIComponent(nonceBase64)}`))['attestation']
  } catch (error) {
    await Promise.all([ca, status])
    throw new Error(`${nodeUrl}/attestation: ${errorText(error)}`)
  }
  if (typeof text !== 'string') throw new Error(`${nodeUrl}/attestation: the answer has no "attestation" string`)
  let document: Uint8Array
  try {
    document = decodeAttestationText(text, 'base64')
  } catch (error) {
    throw new Error(`${nodeUrl}/attestation: "attestation" is not a base64 document (${isAttestationError(error) ? error.attestationCode : errorText(error)})`)
  }
  return inspect(document, { kind: 'url', url: nodeUrl, nonceBase64 }, options, nonce, { ca, status })
}

/**
 * The pasted check: base64 or hex (ATTESTATION.md §1's rule), or a node's whole
 * `{"attestation": …}` answer. No nonce can be checked and no node is asked.
 * @throws Error when the text is not a document's encoding.
 */
export async function verifyPastedDocument(input: string, options: VerifyOptions): Promise<Report> {
  let text = input.trim()
  if (text.startsWith('{')) {
    let inner: unknown
    try {
      inner = (JSON.parse(text) as Record<string, unknown>)['attestation']
    } catch {
      throw new Error('the text starts with "{" but is not a JSON answer of /attestation')
    }
    if (typeof inner !== 'string') throw new Error('the JSON has no "attestation" string')
    text = inner
  }
  const format = detectAttestationFormat(text) === 'hex' ? 'hex' : 'base64'
  let document: Uint8Array
  try {
    document = decodeAttestationText(format === 'hex' ? text.replace(/[\t\n\f\r ]/g, '') : text, format)
  } catch (error) {
    const code = isAttestationError(error) ? error.attestationCode : undefined
    throw new Error(code === undefined ? errorText(error) : `not a document in ${format}: ${code} (${ATTESTATION_ERROR_DESCRIPTIONS[code]})`)
  }
  return inspect(document, { kind: 'pasted', format }, options, undefined, undefined)
}
