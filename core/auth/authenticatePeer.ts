/**
 * Peer authentication for `POST /sync` (PROTOCOL §4.2 steps 2–3 and 6–7), mirroring
 * `authenticateApp`: peer PoP, authorization from the peer cache alone (no chain call on this
 * path), then, once the envelope is open, the claimed sender and the HMAC keyed from the
 * master secret. The envelope itself (steps 4–5) is opened by the caller in between, with the
 * peer's registered key that this returns.
 */
import { INSTANCE_STATUS } from '../chain'
import type { Peer } from '../cluster'
import { parseWallet, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Clock } from '../runtime'
import type { NonceStore } from './nonceStore'
import { parsePopTimestamp, verifyPop } from './verifyPop'

/** The `/sync` request headers, verbatim (`null` when absent). */
export interface PeerAuthHeaders {
  signature: string | null
  nonce: string | null
  timestamp: string | null
  wallet: string | null
  syncSignature: string | null
}

export interface AuthenticatePeerParams {
  headers: PeerAuthHeaders
  ownWallet: Wallet
  nonces: NonceStore
  clock: Clock
  popTimeoutSeconds: number
  kmsAppId: number
  peers: { find(wallet: Wallet): Peer | undefined }
  /** The key ring's HMAC check of the received body (§5.4). */
  verifySyncBody(body: unknown, signature: string): Promise<boolean>
}

export interface AuthenticatedPeer {
  peer: Peer
  /** The request's `X-KMS-Signature`, verbatim: what the counter-signature covers (§4.2). */
  signature: string
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
 * Steps 2–3: PoP in §4.2's order, then the peer cache.
 * @throws KmsError 403 `unauthorized` (PoP) or `forbidden` (not an authorized peer).
 */
export function authenticatePeer(params: AuthenticatePeerParams): AuthenticatedPeer {
  const { headers } = params
  const signature = headers.signature
  if (signature === null) throw unauthorized('Missing x-kms-signature')
  const timestamp = headers.timestamp
  if (timestamp === null) throw unauthorized('Missing x-kms-timestamp')
  parsePopTimestamp(timestamp, 'x-kms-timestamp')
  const nonce = headers.nonce
  if (nonce === null) throw unauthorized('Missing x-kms-nonce')
  const signer = verifyPop({
    purpose: 'Auth',
    headers: { signature, nonce, timestamp, wallet: headers.wallet },
    ownWallet: params.ownWallet,
    nonces: params.nonces,
    clock: params.clock,
    popTimeoutSeconds: params.popTimeoutSeconds,
  })

  const peer = params.peers.find(signer)
  if (peer === undefined) throw forbidden(`Peer ${signer} not found in PeerCache`)
  if (peer.instance.status !== INSTANCE_STATUS.ACTIVE) throw forbidden('Peer instance not ACTIVE')
  if (!peer.instance.zkVerified) throw forbidden('Peer not zk-verified')
  if (peer.instance.appId !== params.kmsAppId) throw forbidden('Peer app_id mismatch')
  if (peer.teePubkeyDer.length === 0) throw forbidden('Peer tee_pubkey missing')

  return {
    peer,
    signature,
    async verifyPayload(body, payload) {
      const senderWallet = payload['sender_wallet']
      if (senderWallet !== undefined && (typeof senderWallet !== 'string' || parseWallet(senderWallet) !== signer)) {
        throw unauthorized('sender_wallet does not match PoP signature')
      }
      if (payload['type'] === 'master_secret_request') return
      const mac = headers.syncSignature
      if (mac === null) throw unauthorized('Missing HMAC signature')
      if (!(await params.verifySyncBody(body, mac))) throw unauthorized('Invalid HMAC signature')
    },
  }
}
