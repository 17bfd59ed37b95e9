/**
 * The `/sync` requester (PROTOCOL §4.1): peer PoP, an envelope to the peer's registered key,
 * the HMAC, and a strict check of the answer (peer counter-signature, sender key) before it
 * is trusted. It also implements what joining needs (`PeerSecretSource`).
 */
import {
  bytesToHex,
  type Wallet,
} from '../encoding'
import {
  buildPeerAuthMessage,
  buildResponseMessage,
  generateP384PrivateKey,
  recoverMessageSigner,
  unsealMasterSecret,
} from '../crypto'
import { parseHex } from '../encoding'
import { isEnvelope, openEnvelope, sealEnvelope, type WireEnvelope } from '../envelope'
import { KmsError } from '../errors'
import { nowSeconds, type Clock, type Random } from '../runtime'
import type { CanDecrypt, IngestResult, KvStore, WireData } from '../store'
import type { Tee } from '../tee'
import type { PeerSecretSource } from './nodeTick'
import { peerEndpoint, type Peer } from './peerCache'

/** §12.3 timeouts. */
export const SYNC_TIMEOUTS_MS = {
  nonce: 5_000,
  delta: 15_000,
  snapshot_request: 30_000,
  master_secret_request: 45_000,
} as const

export type SyncType = 'delta' | 'snapshot_request' | 'master_secret_request'

export interface SyncClientOptions {
  fetch: typeof fetch
  tee: Pick<Tee, 'signMessage' | 'encrypt' | 'decrypt'>
  clock: Clock
  random: Random
  ownWallet: () => Wallet | undefined
  /** `X-Sync-Signature` over the envelope; `undefined` without a secret, so none is sent (§4.1 step 4). */
  signSyncBody: (envelope: WireEnvelope) => Promise<string | undefined>
  store: Pick<KvStore, 'ingest'>
  canDecrypt: CanDecrypt
  /** Counts bytes sent and received, for the convergence benchmark. */
  onTraffic?: (sentBytes: number, receivedBytes: number) => void
}

function syncFailure(message: string, cause?: unknown): KmsError {
  return new KmsError('service_unavailable', message, { cause })
}

export class SyncClient implements PeerSecretSource {
  readonly #options: SyncClientOptions

  constructor(options: SyncClientOptions) {
    this.#options = options
  }

  /** Pushes one delta body; resolves with the peer's counts. */
  async pushDelta(peer: Peer, data: WireData): Promise<Record<string, unknown>> {
    return this.#send(peer, 'delta', { data })
  }

  async pullSnapshot(peer: Peer): Promise<void> {
    await this.pullSnapshotCounts(peer)
  }

  /** `snapshot_request`, then validation and merge of every record (§6.7). */
  async pullSnapshotCounts(peer: Peer): Promise<IngestResult> {
    const answer = await this.#send(peer, 'snapshot_request', {})
    return this.#options.store.ingest(answer['data'], this.#options.canDecrypt)
  }

  /** `master_secret_request` with a fresh ephemeral key, then unseal (§5.5). */
  async requestMasterSecret(peer: Peer): Promise<Uint8Array> {
    const ephemeral = await generateP384PrivateKey(this.#options.random)
    const answer = await this.#send(peer, 'master_secret_request', { ecdh_pubkey: bytesToHex(ephemeral.publicKey.der) })
    // A requester also accepts `data.sealed` (§4.3).
    const data = answer['data']
    const sealed = answer['sealed'] ?? (typeof data === 'object' && data !== null ? (data as Record<string, unknown>)['sealed'] : undefined)
    if (typeof sealed !== 'object' || sealed === null) throw syncFailure('peer answer has no sealed secret')
    const fields = sealed as Record<string, unknown>
    const field = (name: string): Uint8Array => {
      const value = fields[name]
      const bytes = typeof value === 'string' ? parseHex(value) : undefined
      if (bytes === undefined) throw syncFailure(`peer sealed.${name} is not hex`)
      return bytes
    }
    return unsealMasterSecret({
      ephemeralPrivateKey: ephemeral,
      sealed: { ephemeralPublicKeyDer: field('ephemeral_pubkey'), encryptedData: field('encrypted_data'), nonce: field('nonce') },
    })
  }

  async #send(peer: Peer, type: SyncType, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const { fetch, tee, clock, signSyncBody } = this.#options
    const ownWallet = this.#options.ownWallet()
    if (ownWallet === undefined) throw syncFailure('own wallet unknown')

    const nonce = await this.#fetchNonce(peer)
    const timestamp = nowSeconds(clock)
    const signature = await tee.signMessage(buildPeerAuthMessage({ nonce, wallet: peer.wallet, timestamp }))
    const envelope = await sealEnvelope(tee, { type, sender_wallet: ownWallet, ...fields }, peer.teePubkeyDer)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-kms-signature': signature,
      'x-kms-nonce': nonce,
      'x-kms-timestamp': String(timestamp),
      'x-kms-wallet': ownWallet,
    }
    const mac = await signSyncBody(envelope)
    if (mac !== undefined) headers['x-sync-signature'] = mac
    const body = JSON.stringify(envelope)
    const response = await this.#fetchWithTimeout(peerEndpoint(peer.url, '/sync'), { method: 'POST', headers, body }, SYNC_TIMEOUTS_MS[type])
    const text = await response.text()
    this.#options.onTraffic?.(body.length, text.length)
    if (!response.ok) throw syncFailure(`peer answered ${response.status}`, text.slice(0, 200))

    // The answer counts only if the peer signed over our signature and sealed it with its
    // registered key (§4.1, fix).
    const peerSignature = response.headers.get('x-kms-peer-signature')
    if (peerSignature === null) throw syncFailure('peer answer is not signed')
    const signer = recoverMessageSigner(buildResponseMessage({ signature, wallet: peer.wallet }), peerSignature)
    if (signer !== peer.wallet) throw syncFailure('peer answer is signed by another wallet')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw syncFailure('peer answer is not JSON', error)
    }
    if (!isEnvelope(parsed)) throw syncFailure('peer answer is not an envelope')
    return openEnvelope({ tee, envelope: parsed, expectedSenderDer: peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })
  }

  async #fetchNonce(peer: Peer): Promise<string> {
    const response = await this.#fetchWithTimeout(peerEndpoint(peer.url, '/nonce'), { method: 'GET' }, SYNC_TIMEOUTS_MS.nonce)
    if (!response.ok) throw syncFailure(`peer /nonce answered ${response.status}`)
    const body: unknown = await response.json().catch(() => undefined)
    const nonce = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['nonce'] : undefined
    if (typeof nonce !== 'string') throw syncFailure('peer /nonce answer has no nonce')
    return nonce
  }

  async #fetchWithTimeout(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
    try {
      return await this.#options.fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) })
    } catch (error) {
      throw syncFailure('peer unreachable', error)
    }
  }
}
