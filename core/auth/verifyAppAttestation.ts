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
  const wallet = walletFromUserData(attestation.userData)
  if (wallet === undefined) throw rejected('missing eth_addr')
  return { wallet, codeMeasurement: codeMeasurement(attestation.pcrs), document: document.slice() }
}

function walletFromUserData(userData: Uint8Array | null): Wallet | undefined {
  if (userData === null) return undefined
  const text = parseUtf8(userData)
  if (text === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return undefined // not JSON: the same outcome as a JSON object without eth_addr
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const ethAddress: unknown = (parsed as Record<string, unknown>)['eth_addr']
  return typeof ethAddress === 'string' ? parseWallet(ethAddress) : undefined
}

