/**
 * Attestation authentication, PROTOCOL §3.2.2 steps 1–3: the document verifies against the
 * trusted root and is fresh, it carries a nonce this node issued, and it names a wallet.
 */
import { codeMeasurement, decodeAttestationText, verifyNitroAttestation } from '../attestation'
import { bytesToBase64, parseUtf8, parseWallet, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Clock } from '../runtime'
import type { NonceStore } from './nonceStore'

export interface AttestedWallet {
  wallet: Wallet
  /** keccak256(PCR0‖PCR1‖PCR2), checked against the registry after authorization. */
  codeMeasurement: Uint8Array
  /** The decoded COSE_Sign1 bytes: attestation-only responses are signed over their SHA-256. */
  document: Uint8Array
  /**
   * `user_data.nova_kms` (§3.5): which node the document is for and, in v2, which request.
   * `undefined` when the document has none (a node's public /attestation document, say).
   */
  novaKms: NovaKmsBinding | undefined
}

export interface NovaKmsBinding {
  v: number
  /** Canonical, or `undefined` when absent or not a wallet. */
  kmsWallet: Wallet | undefined
  requestDigest: string | undefined
}

export interface VerifyAppAttestationParams {
  header: string
  /** The nonce PoP consumed for this request, if any (step 2). */
  popNonce: string | undefined
  nonces: NonceStore
  clock: Clock
  maxAgeSeconds: number
  allowDebugMode: boolean
  /** Dev mode only; enclave mode always uses the verifier's AWS pin (§3.2.3). */
  trustedRoot: Uint8Array | undefined
}

const NONCE_LENGTH = 16

function rejected(reason: string): KmsError {
  return new KmsError('unauthorized', `Attestation rejected: ${reason}`)
}

/** @throws KmsError 403 `unauthorized` with `Attestation rejected: <reason>`. */
export async function verifyAppAttestation(params: VerifyAppAttestationParams): Promise<AttestedWallet> {
  const { header, popNonce, nonces, clock } = params
  // Step 1. The text rule of ATTESTATION.md §1, then the verifier (which caps the document at
  // 16384 bytes). Its AttestationErrors already carry the wire form `Attestation rejected: <code>`.
  const document = decodeAttestationText(header, 'base64')
  const attestation = await verifyNitroAttestation(document, {
    at: clock.nowMs(),
    maxAgeMs: params.maxAgeSeconds * 1000,
    maxFutureSkewMs: 15_000,
    allowDebugMode: params.allowDebugMode,
    ...(params.trustedRoot === undefined ? {} : { trustedRoot: params.trustedRoot }),
  })

  // Step 2. Freshness was checked above, before the nonce is touched (§3.2.2 step 1).
  const nonce = attestation.nonce
  if (nonce === null || nonce.length !== NONCE_LENGTH) throw rejected('invalid or expired nonce')
  const nonceText = bytesToBase64(nonce)
  const consumedByPop = popNonce !== undefined && nonceText === popNonce
  if (!consumedByPop && !nonces.consume(nonceText)) throw rejected('invalid or expired nonce')

  // Step 3. The wallet comes from user_data.eth_addr.
  const userData = parseUserData(attestation.userData)
  const ethAddress = userData?.['eth_addr']
  const wallet = typeof ethAddress === 'string' ? parseWallet(ethAddress) : undefined
  if (wallet === undefined) throw rejected('missing eth_addr')
  return { wallet, codeMeasurement: codeMeasurement(attestation.pcrs), document: document.slice(), novaKms: novaKmsOf(userData) }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `user_data` as a JSON object; anything else (absent, not UTF-8, not JSON) is `undefined`. */
function parseUserData(userData: Uint8Array | null): Record<string, unknown> | undefined {
  if (userData === null) return undefined
  const text = parseUtf8(userData)
  if (text === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return isObject(parsed) ? parsed : undefined
  } catch {
    return undefined // not JSON: the same outcome as a JSON object without eth_addr
  }
}

function novaKmsOf(userData: Record<string, unknown> | undefined): NovaKmsBinding | undefined {
  const binding = userData?.['nova_kms']
  if (!isObject(binding)) return undefined
  const { v, kms_wallet: kmsWallet, request_digest: requestDigest } = binding
  return {
    v: typeof v === 'number' ? v : 0,
    kmsWallet: typeof kmsWallet === 'string' ? parseWallet(kmsWallet) : undefined,
    requestDigest: typeof requestDigest === 'string' ? requestDigest.toLowerCase() : undefined,
  }
}

