/**
 * Proof-of-Possession verification, shared by app PoP (PROTOCOL §3.1.2) and peer PoP
 * (§4.2 step 2). The check order is part of the contract: the timestamp is checked before
 * the nonce is consumed, so a stale request never burns a valid nonce (fix).
 */
import { buildAppAuthMessage, buildAppAuthMessageV2, buildPeerAuthMessage, buildPeerAuthMessageV2, threadKnownSigners, type SignatureWork } from '../crypto'
import { parseBase64, parseWallet, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import { nowSeconds, type Clock } from '../runtime'
import type { NonceStore } from './nonceStore'

const U64_MAX = (1n << 64n) - 1n

export interface PopHeaders {
  signature: string
  nonce: string
  timestamp: string
  /** `X-App-Wallet` / `X-KMS-Wallet`, when present. */
  wallet: string | null
}

export interface VerifyPopParams {
  /** `AppAuth` for apps (§3.1), `Auth` for peers (§4.1). */
  purpose: 'AppAuth' | 'Auth'
  headers: PopHeaders
  /** The receiving node's own canonical wallet: binds the signature to its recipient. */
  ownWallet: Wallet
  nonces: NonceStore
  clock: Clock
  popTimeoutSeconds: number
  /**
   * Binding v2 (§3.5, §3.6): the request digest the signature must cover. With it, the
   * wallet header is required and a signer other than it is `Request binding mismatch`.
   */
  requestDigest?: string
}

function unauthorized(message: string): KmsError {
  return new KmsError('unauthorized', message)
}

/**
 * Parses `X-*-Timestamp`: 1–20 decimal digits that fit in a u64 (§3.1.2 step 1).
 * @throws KmsError unauthorized `Invalid x-<app|kms>-timestamp`
 */
export function parsePopTimestamp(text: string, headerName: string): bigint {
  if (!/^\d{1,20}$/.test(text)) throw unauthorized(`Invalid ${headerName}`)
  const value = BigInt(text)
  if (value > U64_MAX) throw unauthorized(`Invalid ${headerName}`)
  return value
}

/**
 * The checks before recovery, in §3.1.2's order, and the message the signature must cover.
 * The nonce is consumed here, before recovery: a request with a bad signature still burns
 * its nonce, whichever thread recovers it.
 */
function checkBeforeRecovery(params: VerifyPopParams): string {
  const { purpose, headers, ownWallet, nonces, clock, popTimeoutSeconds } = params
  const headerPrefix = purpose === 'AppAuth' ? 'x-app' : 'x-kms'
  const timestamp = parsePopTimestamp(headers.timestamp, `${headerPrefix}-timestamp`)
  const skew = BigInt(nowSeconds(clock)) - timestamp
  if (skew > BigInt(popTimeoutSeconds) || -skew > BigInt(popTimeoutSeconds)) throw unauthorized('Stale timestamp')
  if (parseBase64(headers.nonce) === undefined) throw unauthorized('Invalid nonce encoding')
  if (!nonces.consume(headers.nonce)) throw unauthorized('Invalid or expired nonce')
  // `<ts>` is the parsed value in decimal, not the header text (§3.1.2 step 5, as in (c)).
  const signed = { nonce: headers.nonce, wallet: ownWallet, timestamp }
  const { requestDigest } = params
  if (requestDigest !== undefined) {
    if (headers.wallet === null) throw unauthorized(`Missing ${headerPrefix}-wallet`)
    return purpose === 'AppAuth' ? buildAppAuthMessageV2({ ...signed, requestDigest }) : buildPeerAuthMessageV2({ ...signed, requestDigest })
  }
  return purpose === 'AppAuth' ? buildAppAuthMessage(signed) : buildPeerAuthMessage(signed)
}

/** The checks after recovery: the wallet header (required in v2) against the signer. */
function checkSigner(params: VerifyPopParams, signer: Wallet): Wallet {
  const { purpose, headers } = params
  if (params.requestDigest !== undefined) {
    const claimed = parseWallet(headers.wallet!)
    if (claimed === undefined) throw unauthorized('Invalid wallet address')
    // Any change to method, target or body changes the digest, hence the recovered signer.
    if (claimed !== signer) throw unauthorized('Request binding mismatch')
    return signer
  }
  if (headers.wallet !== null) {
    const claimed = parseWallet(headers.wallet)
    if (claimed === undefined) throw unauthorized('Invalid wallet address')
    if (claimed !== signer) {
      throw unauthorized(
        purpose === 'AppAuth' ? 'App wallet header does not match signature' : 'KMS wallet header does not match signature',
      )
    }
  }
  return signer
}

/**
 * Verifies a PoP signature and returns the signer, recovering it on this thread.
 * @throws KmsError 403 `unauthorized` with the exact §3.1.2 / §4.2 message.
 */
export function verifyPop(params: VerifyPopParams): Wallet {
  const message = checkBeforeRecovery(params)
  return checkSigner(params, threadKnownSigners.recover(message, params.headers.signature, claimedSigner(params.headers)))
}

/**
 * The wallet header as a hint for the recovery (`KnownSigners`), never as a check: a header
 * that does not parse gives no hint, and checkSigner still refuses it after the recovery, in
 * §3.1.2's order.
 */
function claimedSigner(headers: PopHeaders): Wallet | undefined {
  return headers.wallet === null ? undefined : parseWallet(headers.wallet)
}

/**
 * {@link verifyPop} with the recovery handed to `signatures` (e.g. a worker pool): the same
 * checks in the same order with the same messages, the nonce consumed before the recovery
 * starts. The app path uses it; it may also fail as `signatures` does (503 when the work
 * cannot be done).
 * @throws KmsError 403 `unauthorized` with the exact §3.1.2 / §4.2 message.
 */
export async function verifyPopAsync(params: VerifyPopParams & { signatures: SignatureWork }): Promise<Wallet> {
  const message = checkBeforeRecovery(params)
  return checkSigner(params, await params.signatures.recoverMessageSigner(message, params.headers.signature, claimedSigner(params.headers)))
}
