/**
 * Peer authentication for `POST /sync` (PROTOCOL §4.2 steps 2–3 and 6–7), mirroring
 * `authenticateApp`: the sync version (§3.6), peer PoP, authorization from the peer cache
 * alone (no chain call on this path), then, once the body is read, its hash against the one
 * the v2 PoP covers, and once the envelope is open, the claimed sender and the HMAC keyed
 * from the master secret. The envelope itself (steps 4–5) is opened by the caller in
 * between, with the peer's registered key that this returns.
 */
import { INSTANCE_STATUS } from '../chain'
import type { Peer } from '../cluster'
import { computeContentSha256, computeRequestDigest, type SignatureWork } from '../crypto'
import { parseWallet, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Clock } from '../runtime'
import type { NonceStore } from './nonceStore'
import { parseContentSha256 } from './requestBinding'
import { parsePopTimestamp, verifyPop, verifyPopAsync, type VerifyPopParams } from './verifyPop'

export type SyncVersion = 1 | 2

/** The TARGET of every `/sync` request digest (§3.6): the route, whatever the URL. */
export const SYNC_TARGET = '/sync'

/** The `/sync` request headers, verbatim (`null` when absent). */
export interface PeerAuthHeaders {
  signature: string | null
  nonce: string | null
  timestamp: string | null
  wallet: string | null
  syncSignature: string | null
  /** `X-Sync-Version` (§3.6): absent or `1` is v1, `2` is v2. */
  version?: string | null
  /** `X-App-Content-SHA256`, which the v2 PoP covers (§3.6). */
  contentSha256?: string | null
}

/** The per-wallet version memory of §3.6 (`core/cluster` SyncVersions). */
export interface SyncVersionMemory {
  isV2(wallet: Wallet): boolean
  markV2(wallet: Wallet): void
}

export interface AuthenticatePeerParams {
  headers: PeerAuthHeaders
  ownWallet: Wallet
  nonces: NonceStore
  clock: Clock
  popTimeoutSeconds: number
  kmsAppId: number
  peers: { find(wallet: Wallet): Peer | undefined }
  /** The key ring's HMAC check of the received body (§5.4); v2 passes the request's nonce (§3.6). */
  verifySyncBody(body: unknown, signature: string, nonce?: string): Promise<boolean>
  /** MIN_SYNC_VERSION (§3.6, §11); default 1. */
  minSyncVersion?: SyncVersion
  /** Which wallets have spoken v2; a v2 request marks its signer once authorized. */
  versions?: SyncVersionMemory
}

export interface AuthenticatedPeer {
  peer: Peer
  /** The request's `X-KMS-Signature`, verbatim: what the counter-signature or binding covers (§4.2, §3.6). */
  signature: string
  /** 2: every answer from here on carries `X-KMS-Peer-Binding` (§3.6). */
  version: SyncVersion
  /** `X-KMS-Nonce`, the nonce PoP consumed: a requester's document must carry it (§4.5). */
  nonce: string
  /** v2: the request digest the PoP covers (§3.6); a requester's document names it (§4.5). */
  requestDigest: string | undefined
  /**
   * v2: the exact body bytes must hash to `X-App-Content-SHA256`; v1 accepts any body.
   * @throws KmsError 403 `unauthorized` (`Request binding mismatch`)
   */
  verifyBody(bytes: Uint8Array): void
  /**
   * Steps 6–7 on the opened payload: a claimed `sender_wallet` must be the signer, and every
   * type but `master_secret_request` must carry a valid HMAC over the received `body`.
   * @throws KmsError 403 `unauthorized`
   */
  verifyPayload(body: unknown, payload: Record<string, unknown>): Promise<void>
}

function unauthorized(message: string): KmsError {
  return new KmsError('unauthorized', message)
}

function forbidden(message: string): KmsError {
  return new KmsError('forbidden', message)
}

/**
 * `X-Sync-Version` (§3.6).
 * @throws KmsError 400 `Unsupported sync version`
 */
export function parseSyncVersion(header: string | null | undefined): SyncVersion {
  if (header === null || header === undefined || header.trim() === '1') return 1
  if (header.trim() === '2') return 2
  throw new KmsError('bad_request', 'Unsupported sync version')
}

/** Step 2 before any recovery: the version and the PoP headers, and what the PoP must cover. */
interface PeerPopCheck {
  version: SyncVersion
  signature: string
  nonce: string
  contentSha256: string | undefined
  requestDigest: string | undefined
  pop: VerifyPopParams
}

function checkPeerHeaders(params: AuthenticatePeerParams): PeerPopCheck {
  const { headers } = params
  // The version first, from the headers alone: a refused v1 spends no nonce.
  const version = parseSyncVersion(headers.version)
  if (version < (params.minSyncVersion ?? 1)) throw unauthorized('Sync binding required')
  const signature = headers.signature
  if (signature === null) throw unauthorized('Missing x-kms-signature')
  const timestamp = headers.timestamp
  if (timestamp === null) throw unauthorized('Missing x-kms-timestamp')
  parsePopTimestamp(timestamp, 'x-kms-timestamp')
  const nonce = headers.nonce
  if (nonce === null) throw unauthorized('Missing x-kms-nonce')
  // v2: the PoP covers POST /sync and the body's hash, which the header announces (§3.6).
  const contentSha256 = version === 2 ? parseContentSha256(headers.contentSha256 ?? null) : undefined
  const requestDigest = contentSha256 === undefined ? undefined : computeRequestDigest({ method: 'POST', target: SYNC_TARGET, contentSha256 })
  const pop: VerifyPopParams = {
    purpose: 'Auth',
    headers: { signature, nonce, timestamp, wallet: headers.wallet },
    ownWallet: params.ownWallet,
    nonces: params.nonces,
    clock: params.clock,
    popTimeoutSeconds: params.popTimeoutSeconds,
    ...(requestDigest === undefined ? {} : { requestDigest }),
  }
  return { version, signature, nonce, contentSha256, requestDigest, pop }
}

/**
 * Steps 2–3: the version, PoP in §4.2's order, then the peer cache, recovering the signer on
 * this thread.
 * @throws KmsError 400 for an unknown version; 403 `unauthorized` (version refused, PoP) or
 *   `forbidden` (not an authorized peer).
 */
export function authenticatePeer(params: AuthenticatePeerParams): AuthenticatedPeer {
  const check = checkPeerHeaders(params)
  return authorizePeer(params, check, verifyPop(check.pop))
}

/**
 * {@link authenticatePeer} with the PoP recovery handed to `signatures` (the node's worker
 * pool, when it has one), as the app path does: the same checks in the same order with the
 * same messages, the nonce consumed before the recovery starts. `/sync` uses it, so that a
 * peer's push does not hold the JavaScript thread for a recovery either.
 * @throws as {@link authenticatePeer}, and 503 `service_unavailable` when `signatures` cannot do the work.
 */
export async function authenticatePeerAsync(params: AuthenticatePeerParams & { signatures: SignatureWork }): Promise<AuthenticatedPeer> {
  const check = checkPeerHeaders(params)
  return authorizePeer(params, check, await verifyPopAsync({ ...check.pop, signatures: params.signatures }))
}

/** Step 3 and what steps 4–7 need, once the PoP's signer is known. */
function authorizePeer(params: AuthenticatePeerParams, check: PeerPopCheck, signer: Wallet): AuthenticatedPeer {
  const { headers } = params
  const { version, signature, nonce, contentSha256, requestDigest } = check
  // Downgrade (§3.6): a wallet that has spoken v2 is never served v1 again.
  if (version === 1 && params.versions?.isV2(signer) === true) throw unauthorized('Sync binding required')

  const peer = params.peers.find(signer)
  if (peer === undefined) throw forbidden(`Peer ${signer} not found in PeerCache`)
  if (peer.instance.status !== INSTANCE_STATUS.ACTIVE) throw forbidden('Peer instance not ACTIVE')
  if (!peer.instance.zkVerified) throw forbidden('Peer not zk-verified')
  if (peer.instance.appId !== params.kmsAppId) throw forbidden('Peer app_id mismatch')
  if (peer.teePubkeyDer.length === 0) throw forbidden('Peer tee_pubkey missing')
  // A verified v2 signature of a cached peer: from now on, v1 from it is refused.
  if (version === 2) params.versions?.markV2(signer)

  return {
    peer,
    signature,
    version,
    nonce,
    requestDigest,
    verifyBody(bytes) {
      if (contentSha256 !== undefined && computeContentSha256(bytes) !== contentSha256) throw unauthorized('Request binding mismatch')
    },
    async verifyPayload(body, payload) {
      const senderWallet = payload['sender_wallet']
      if (senderWallet !== undefined && (typeof senderWallet !== 'string' || parseWallet(senderWallet) !== signer)) {
        throw unauthorized('sender_wallet does not match PoP signature')
      }
      if (payload['type'] === 'master_secret_request') return
      const mac = headers.syncSignature
      if (mac === null) throw unauthorized('Missing HMAC signature')
      // v2: the MAC covers the nonce too, so an old body cannot ride on fresh headers (§3.6).
      const valid = version === 2 ? await params.verifySyncBody(body, mac, nonce) : await params.verifySyncBody(body, mac)
      if (!valid) throw unauthorized('Invalid HMAC signature')
    },
  }
}
