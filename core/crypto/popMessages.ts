/**
 * The exact strings that PoP and counter-signatures sign (PROTOCOL §3.1.1, §3.4, §4.1). The
 * wallet is always canonical and the timestamp is decimal without leading zeros.
 */
import { isCanonicalWallet, type Wallet } from '../encoding'
import { assertInteger, assertString } from '../_assert'

const U64_MAX = (1n << 64n) - 1n

export interface AuthMessageParams {
  /** The nonce as the base64 string from `GET /nonce`, verbatim. */
  nonce: string
  /** The canonical wallet of the node the request goes to. */
  wallet: Wallet
  /**
   * `now_s` of the signer. The server passes the parsed `X-*-Timestamp` (a u64, so it may be
   * a bigint), never the header text (§3.1.2 step 5).
   */
  timestamp: number | bigint
}

export interface ResponseMessageParams {
  /**
   * The request's `X-App-Signature` or `X-KMS-Signature` header, verbatim; with attestation
   * only, the SHA-256 hex of the decoded document (§3.4).
   */
  signature: string
  /** The responding node's canonical wallet. */
  wallet: Wallet
}

export interface AuthMessageV2Params extends AuthMessageParams {
  /** `request_digest` of §3.5: 64 lowercase hex digits. */
  requestDigest: string
}

export interface ResponseBindingParams {
  /** `X-App-Signature` / `X-KMS-Signature` verbatim, or the attestation's SHA-256 hex (§3.5). */
  subject: string
  /** The responding node's canonical wallet. */
  wallet: Wallet
  /** The HTTP status of the answer. */
  status: number
  /** sha256hex of the exact response body bytes. */
  bodySha256: string
}

function assertDigest(value: string, field: string): void {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) throw new TypeError(`${field}: expected 64 lowercase hex digits`)
}

function assertWallet(wallet: string): void {
  if (!isCanonicalWallet(wallet)) throw new TypeError('wallet: expected canonical 0x + 40 lowercase hex')
}

function authMessage(kind: 'AppAuth' | 'Auth', { nonce, wallet, timestamp }: AuthMessageParams): string {
  assertString(nonce, 'nonce')
  assertWallet(wallet)
  if (typeof timestamp === 'bigint') {
    if (timestamp < 0n || timestamp > U64_MAX) throw new RangeError('timestamp: expected 0..2^64−1')
  } else assertInteger(timestamp, 'timestamp', 0, Number.MAX_SAFE_INTEGER)
  // Both number and bigint print as decimal without leading zeros or exponent in this range.
  return `NovaKMS:${kind}:${nonce}:${wallet}:${timestamp.toString()}`
}

/** App PoP (§3.1.1): `NovaKMS:AppAuth:<nonce>:<kms_wallet>:<ts>`. */
export function buildAppAuthMessage(params: AuthMessageParams): string {
  return authMessage('AppAuth', params)
}

/** Peer PoP (§4.1 step 2): `NovaKMS:Auth:<nonce>:<peer wallet>:<ts>`. */
export function buildPeerAuthMessage(params: AuthMessageParams): string {
  return authMessage('Auth', params)
}

/** Counter-signature (§3.4, §4.2): `NovaKMS:Response:<signature>:<own wallet>`. */
export function buildResponseMessage({ signature, wallet }: ResponseMessageParams): string {
  assertString(signature, 'signature')
  assertWallet(wallet)
  return `NovaKMS:Response:${signature}:${wallet}`
}

/** App PoP, binding v2 (§3.5): `NovaKMS:AppAuth:v2:<nonce>:<kms_wallet>:<ts>:<request_digest>`. */
export function buildAppAuthMessageV2(params: AuthMessageV2Params): string {
  assertDigest(params.requestDigest, 'requestDigest')
  return `${authMessage('AppAuth', params).replace('NovaKMS:AppAuth:', 'NovaKMS:AppAuth:v2:')}:${params.requestDigest}`
}

/** Peer PoP, sync binding v2 (§3.6): `NovaKMS:Auth:v2:<nonce>:<peer wallet>:<ts>:<request_digest>`. */
export function buildPeerAuthMessageV2(params: AuthMessageV2Params): string {
  assertDigest(params.requestDigest, 'requestDigest')
  return `${authMessage('Auth', params).replace('NovaKMS:Auth:', 'NovaKMS:Auth:v2:')}:${params.requestDigest}`
}

/**
 * The v2 response binding (§3.5, §3.6):
 * `NovaKMS:Response:v2:<subject>:<own wallet>:<status>:<sha256hex(body)>`.
 */
export function buildResponseBindingMessage({ subject, wallet, status, bodySha256 }: ResponseBindingParams): string {
  assertString(subject, 'subject')
  assertWallet(wallet)
  assertInteger(status, 'status', 100, 599)
  assertDigest(bodySha256, 'bodySha256')
  return `NovaKMS:Response:v2:${subject}:${wallet}:${status}:${bodySha256}`
}
