/**
 * Peer attestation (PROTOCOL §4.5; the seed's node-initialization steps 4.1–4.4): before the
 * master secret moves, each side checks a Nitro document of the other, made for this moment.
 *
 * - The responder checks the requester's document (`X-KMS-Attestation`) on a
 *   `master_secret_request`, after PoP and the peer cache (§4.2 steps 2–3), so that a
 *   stranger cannot make it spend a verification: `verifyRequesterAttestation`.
 * - The requester checks the responder's `/attestation` document, fetched with a fresh
 *   random nonce, before it asks that peer for the secret: `verifyResponderAttestation`.
 *
 * What this adds over `zkVerified` (README, "Peer attestation"): independence from the ZK
 * pipeline and from whoever can set `zkVerified`, and proof that the peer's enclave is alive
 * now and runs the enrolled code at the moment the secret moves. The chain-hash check of
 * §7.1 still guards the secret itself.
 *
 * @module
 */
import { codeMeasurement, decodeAttestationText, verifyNitroAttestation, type NitroAttestation } from '../attestation'
import { VERSION_STATUS } from '../chain/types'
import { isSameP384PublicKey } from '../crypto/p384PublicKey'
import { bytesEqual, parseBase64, parseUtf8, parseWallet, type Wallet } from '../encoding'
import { asPeerAttestationError, PeerAttestationError } from './peerAttestationError'

/** What the registry says the peer is: the document must match all of it. */
export interface AttestedPeerIdentity {
  wallet: Wallet
  /** DER SPKI of the registered teePubkey. */
  teePubkeyDer: Uint8Array
  /** The registered version's `codeMeasurement` and status (§9.2). */
  version: { status: number; codeMeasurement: Uint8Array }
}

/** How documents are verified; the node fixes this from its mode (§3.2.3) and build. */
export interface PeerAttestationPolicy {
  /** ms since the epoch. */
  at: number
  maxAgeMs: number
  /** `undefined`: the pinned AWS root (enclave mode); dev mode (and the test build) the dev root. */
  trustedRoot: Uint8Array | undefined
  /** Dev mode only: its stand-in documents have zero PCRs. Never in enclave mode. */
  allowDebugMode: boolean
}

/** The `user_data.nova_kms` a requester's document carries (§4.5). */
export interface PeerAttestationBinding {
  v: 2
  purpose: 'sync'
  /** The responder's wallet. */
  kms_wallet: Wallet
  /** The §3.6 request digest of the `master_secret_request`. */
  request_digest: string
}

const MAX_FUTURE_SKEW_MS = 15_000

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function userDataOf(attestation: NitroAttestation): Record<string, unknown> | undefined {
  const text = attestation.userData === null ? undefined : parseUtf8(attestation.userData)
  if (text === undefined) return undefined
  try {
    const parsed: unknown = JSON.parse(text)
    return isObject(parsed) ? parsed : undefined
  } catch {
    return undefined
  }
}

/**
 * The verifier (root, chain, signature, freshness, nonce, no debug PCRs) and then the
 * identity checks: `eth_addr`, `public_key` and the code measurement against the registry.
 * @returns the document's `user_data` object (or `undefined` if it has none).
 */
async function verifyPeerDocument(document: Uint8Array, expectedNonce: Uint8Array, peer: AttestedPeerIdentity, policy: PeerAttestationPolicy): Promise<Record<string, unknown> | undefined> {
  let attestation: NitroAttestation
  try {
    attestation = await verifyNitroAttestation(document, {
      at: policy.at,
      expectedNonce,
      maxAgeMs: policy.maxAgeMs,
      maxFutureSkewMs: MAX_FUTURE_SKEW_MS,
      allowDebugMode: policy.allowDebugMode,
      ...(policy.trustedRoot === undefined ? {} : { trustedRoot: policy.trustedRoot }),
    })
  } catch (error) {
    throw asPeerAttestationError(error)
  }
  const userData = userDataOf(attestation)
  const ethAddress = userData?.['eth_addr']
  if (typeof ethAddress !== 'string' || parseWallet(ethAddress) !== peer.wallet) throw new PeerAttestationError('wallet mismatch')
  if (attestation.publicKey === null || !isSameP384PublicKey(attestation.publicKey, peer.teePubkeyDer)) throw new PeerAttestationError('public key mismatch')
  if (!bytesEqual(codeMeasurement(attestation.pcrs), peer.version.codeMeasurement)) throw new PeerAttestationError('measurement mismatch')
  return userData
}

export interface VerifyRequesterAttestationParams {
  /** `X-KMS-Attestation`, verbatim (`null` when absent). */
  header: string | null
  /** The authenticated requester, from the peer cache. */
  peer: AttestedPeerIdentity
  /** `X-KMS-Nonce`: this node's `/nonce` value that the request's PoP consumed. */
  popNonce: string
  /** The request's §3.6 digest; `undefined` for a v1 request, which no document can match. */
  requestDigest: string | undefined
  /** This node's wallet: the document must name it as `kms_wallet`. */
  ownWallet: Wallet
  policy: PeerAttestationPolicy
}

/**
 * Seed step 4.4, on the responder: the requester's document for this very request.
 * ENROLLED is required of a receiver of the secret (a DEPRECATED version may still serve it).
 * @throws PeerAttestationError (403 `unauthorized`) naming the check that failed.
 */
export async function verifyRequesterAttestation(params: VerifyRequesterAttestationParams): Promise<void> {
  const { peer } = params
  if (peer.version.status !== VERSION_STATUS.ENROLLED) throw new PeerAttestationError('version not enrolled')
  if (params.header === null) throw new PeerAttestationError('missing')
  let document: Uint8Array
  try {
    document = decodeAttestationText(params.header, 'base64')
  } catch (error) {
    throw asPeerAttestationError(error)
  }
  // The nonce is the one PoP spent: a document made for another request, or replayed, differs.
  const expectedNonce = parseBase64(params.popNonce)
  if (expectedNonce === undefined) throw new PeerAttestationError('ATTESTATION_NONCE_MISMATCH')
  const userData = await verifyPeerDocument(document, expectedNonce, peer, params.policy)
  const binding = userData?.['nova_kms']
  if (!isObject(binding)) throw new PeerAttestationError('missing nova_kms')
  if (binding['v'] !== 2 || binding['purpose'] !== 'sync') throw new PeerAttestationError('wrong purpose')
  const kmsWallet = typeof binding['kms_wallet'] === 'string' ? parseWallet(binding['kms_wallet']) : undefined
  if (kmsWallet !== params.ownWallet) throw new PeerAttestationError('not for this node')
  const digest = typeof binding['request_digest'] === 'string' ? binding['request_digest'].toLowerCase() : undefined
  if (params.requestDigest === undefined || digest !== params.requestDigest.toLowerCase()) throw new PeerAttestationError('request digest mismatch')
}

export interface VerifyResponderAttestationParams {
  /** The decoded `/attestation` document. */
  document: Uint8Array
  /** The fresh random nonce the requester sent in `?nonce=`. */
  nonce: Uint8Array
  peer: AttestedPeerIdentity
  policy: PeerAttestationPolicy
}

/**
 * Seed steps 4.1–4.3, on the requester: the responder's public document, made for our fresh
 * nonce, is a live enclave with the peer's registered wallet, key and measurement. ENROLLED
 * or DEPRECATED (the peer cache holds no other), so joiners are not stranded in an upgrade.
 * @throws PeerAttestationError naming the check that failed.
 */
export async function verifyResponderAttestation(params: VerifyResponderAttestationParams): Promise<void> {
  const { status } = params.peer.version
  if (status !== VERSION_STATUS.ENROLLED && status !== VERSION_STATUS.DEPRECATED) throw new PeerAttestationError('version not enrolled')
  await verifyPeerDocument(params.document, params.nonce, params.peer, params.policy)
}
