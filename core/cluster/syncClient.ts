/**
 * The `/sync` requester (PROTOCOL §4.1, §3.6): peer PoP, an envelope to the peer's registered
 * key, the HMAC, and a strict check of the answer (the v2 binding or the v1 counter-signature,
 * the sender key) before it is trusted. It also implements what joining needs
 * (`PeerSecretSource`), with the snapshot pulled page by page (§4.3).
 *
 * The host runs the network: every reply is read through a byte cap and a deadline, and a
 * redirect is a failure, never followed (§12.3).
 *
 * Versions (§3.6): every request is sent as v2 first. A v1 retry happens only during a
 * rolling upgrade, for a peer that has never proven v2 and whose unbound answer is the one a
 * v1 node gives a v2 PoP; see `#send`.
 */
import {
  buildPeerAuthMessage,
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  buildResponseMessage,
  computeContentSha256,
  computeRequestDigest,
  generateP384PrivateKey,
  threadKnownSigners,
  unsealMasterSecret,
} from '../crypto'
import { decodeAttestationText } from '../attestation'
import { isPeerAttestationError, PeerAttestationError, type PeerAttestationCheck } from '../auth/peerAttestationError'
import { verifyResponderAttestation, type PeerAttestationPolicy } from '../auth/verifyPeerAttestation'
import { bytesToBase64, bytesToHex, parseBase64, parseHex, utf8ToBytes, type Wallet } from '../encoding'
import { isEnvelope, openEnvelope, sealEnvelope, type WireEnvelope } from '../envelope'
import { KmsError } from '../errors'
import { nowSeconds, type Clock, type Random } from '../runtime'
import type { CanDecrypt, IngestResult, KvStore, WireData } from '../store'
import type { Tee } from '../tee'
import type { PeerSecretSource } from './nodeTick'
import { peerEndpoint, type Peer } from './peerCache'
import { fetchPeer, PEER_REPLY_LIMITS, readBoundedBody } from './peerHttp'
import {
  compareSnapshotCursors,
  MAX_SNAPSHOT_PAGES,
  parseSnapshotCursor,
  SNAPSHOT_PULL_DEADLINE_MS,
  syncDataBudget,
} from './snapshotCursor'
import { SyncVersions } from './syncVersions'

/** §12.3 timeouts, each from the request to the last byte of the answer. */
export const SYNC_TIMEOUTS_MS = {
  nonce: 5_000,
  delta: 15_000,
  snapshot_request: 30_000,
  master_secret_request: 45_000,
  /** The responder's `/attestation` before a secret request (§4.5). */
  attestation: 10_000,
} as const

export type SyncType = 'delta' | 'snapshot_request' | 'master_secret_request'

/** MAX_SYNC_PAYLOAD_BYTES by default (§11). */
const DEFAULT_MAX_SYNC_PAYLOAD_BYTES = 52_428_800

/** What a v1 node answers a v2 PoP: it recovers another signer than `X-KMS-Wallet` (§4.2 step 2). */
const V1_REFUSAL = { status: 403, code: 'unauthorized', message: 'KMS wallet header does not match signature' } as const

/** Whose document a node verified (`/metrics` label `verified`). */
export type AttestedRole = 'requester' | 'responder'

/** Peer attestation (§4.5) as the requester does it. */
export interface PeerAttestationOptions {
  /** How documents are verified now: the trust root, debug PCRs, the age bound, the time. */
  policy(): PeerAttestationPolicy
  /** Counts each verification (`nova_kms_peer_attestations_total`). */
  onResult?(verified: AttestedRole, result: 'ok' | PeerAttestationCheck): void
}

/** The nonce the requester sends to `/attestation`: 32 random bytes (§2.9 allows 16..64). */
const ATTESTATION_NONCE_BYTES = 32

export interface SyncClientOptions {
  fetch: typeof fetch
  tee: Pick<Tee, 'signMessage' | 'encrypt' | 'decrypt' | 'getAttestation' | 'getEncryptionPublicKey'>
  /** Before a secret request, the responder's document; with it, the requester's own (§4.5). */
  peerAttestation: PeerAttestationOptions
  clock: Clock
  random: Random
  ownWallet: () => Wallet | undefined
  /**
   * `X-Sync-Signature` over the envelope, v2 (§3.6) when `nonce` is given; `undefined`
   * without a secret, so none is sent (§4.1 step 4).
   */
  signSyncBody: (envelope: WireEnvelope, nonce?: string) => Promise<string | undefined>
  store: Pick<KvStore, 'ingest'>
  canDecrypt: CanDecrypt
  /** MIN_SYNC_VERSION (§3.6): 2 never sends v1 and never accepts a v1 answer. Default 1. */
  minSyncVersion?: 1 | 2
  /** MAX_SYNC_PAYLOAD_BYTES: the cap on a 2xx `/sync` answer, and what a snapshot page may fill. */
  maxSyncPayloadBytes?: number
  /** The wallets in the peer cache now, which bound the version memory; omitted: no bound. */
  peerWallets?: () => Iterable<Wallet>
  /** Counts bytes sent and received, for the convergence benchmark. */
  onTraffic?: (sentBytes: number, receivedBytes: number) => void
}

function syncFailure(message: string, cause?: unknown): KmsError {
  return new KmsError('service_unavailable', message, { cause })
}

/**
 * A bound refusal from the peer (§3.6): it is the peer's own answer, so its `{"code","message"}`
 * can be trusted as its reason, for example `Peer attestation rejected: measurement mismatch`.
 */
export class PeerRefusal extends KmsError {
  override readonly name: string = 'PeerRefusal'
  constructor(
    readonly refusal: { status: number; code: string; message: string },
  ) {
    super('service_unavailable', `peer answered ${refusal.status}: ${refusal.message}`)
  }

  /** The peer refused this node's attestation (§4.5). */
  get refusedAttestation(): boolean {
    return this.refusal.message.startsWith('Peer attestation')
  }
}

function refusalOf(status: number, answer: Uint8Array): PeerRefusal | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(answer))
    if (typeof parsed !== 'object' || parsed === null) return undefined
    const { code, message } = parsed as Record<string, unknown>
    return typeof code === 'string' && typeof message === 'string' ? new PeerRefusal({ status, code, message: message.slice(0, 200) }) : undefined
  } catch {
    return undefined
  }
}

/** The unbound answer of a v1 node to a v2 request: the one case that allows a v1 retry. */
class V1Refusal extends Error {
  constructor() {
    super('peer refused the v2 PoP as a v1 node does')
  }
}

function isV1Refusal(status: number, body: Uint8Array): boolean {
  if (status !== V1_REFUSAL.status) return false
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body))
    if (typeof parsed !== 'object' || parsed === null) return false
    const fields = parsed as Record<string, unknown>
    return fields['code'] === V1_REFUSAL.code && fields['message'] === V1_REFUSAL.message
  } catch {
    return false
  }
}

/**
 * The signer of `signature` over `message`, or `undefined` for one that does not parse or
 * recover. `peer`, the wallet expected, only makes a known peer faster (`KnownSigners`).
 */
function signerOf(message: string, signature: string, peer: Wallet): Wallet | undefined {
  try {
    return threadKnownSigners.recover(message, signature, peer)
  } catch {
    return undefined
  }
}

function addCounts(total: IngestResult, page: IngestResult): void {
  total.total += page.total
  total.merged += page.merged
  total.skipped += page.skipped
  total.rejected += page.rejected
  for (const [reason, count] of Object.entries(page.skip_reasons) as [keyof IngestResult['skip_reasons'], number][]) {
    total.skip_reasons[reason] = (total.skip_reasons[reason] ?? 0) + count
  }
}

export class SyncClient implements PeerSecretSource {
  readonly #options: SyncClientOptions
  readonly #maxSyncPayloadBytes: number
  /** The per-wallet version memory of §3.6, shared with the `/sync` server of this node. */
  readonly versions: SyncVersions

  constructor(options: SyncClientOptions) {
    this.#options = options
    this.#maxSyncPayloadBytes = options.maxSyncPayloadBytes ?? DEFAULT_MAX_SYNC_PAYLOAD_BYTES
    this.versions = new SyncVersions(options.peerWallets)
  }

  /**
   * Pushes one delta body, with the relay fields of §4.3 (`stream`, `stamp`, `relayed`,
   * `acks`) when given; resolves with the peer's counts.
   */
  async pushDelta(peer: Peer, data: WireData, relay: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.#send(peer, 'delta', { ...relay, data })
  }

  async pullSnapshot(peer: Peer): Promise<void> {
    await this.pullSnapshotCounts(peer)
  }

  /**
   * `snapshot_request` page by page (§4.3), each validated and merged as it arrives (§6.7).
   * A peer that answers without `next_cursor` (from before pages) sent one page. The pull is
   * bounded: at most `MAX_SNAPSHOT_PAGES` pages within `SNAPSHOT_PULL_DEADLINE_MS`, and each
   * cursor must come strictly after the previous one.
   * @throws KmsError 503 on any failed page, bad cursor or bound; pages merged so far stay.
   */
  async pullSnapshotCounts(peer: Peer): Promise<IngestResult> {
    const { clock, store, canDecrypt } = this.#options
    const deadline = clock.nowMs() + SNAPSHOT_PULL_DEADLINE_MS
    const maxBytes = syncDataBudget(this.#maxSyncPayloadBytes)
    const counts: IngestResult = { total: 0, merged: 0, skipped: 0, rejected: 0, skip_reasons: {} }
    let cursor: string | undefined
    for (let page = 0; page < MAX_SNAPSHOT_PAGES; page++) {
      if (clock.nowMs() > deadline) throw syncFailure('snapshot pull took too long')
      const answer = await this.#send(peer, 'snapshot_request', cursor === undefined ? { max_bytes: maxBytes } : { cursor, max_bytes: maxBytes })
      addCounts(counts, await store.ingest(answer['data'], canDecrypt))
      const next = answer['next_cursor']
      if (next === undefined || next === null) return counts
      const parsed = typeof next === 'string' ? parseSnapshotCursor(next) : undefined
      const previous = cursor === undefined ? undefined : parseSnapshotCursor(cursor)
      if (parsed === undefined || (previous !== undefined && compareSnapshotCursors(parsed, previous) <= 0)) {
        throw syncFailure('peer sent an invalid snapshot cursor')
      }
      cursor = next as string
    }
    throw syncFailure(`snapshot has more than ${MAX_SNAPSHOT_PAGES} pages`)
  }

  /**
   * `master_secret_request` with a fresh ephemeral key, then unseal (§5.5). First the
   * responder must prove, with a document for a fresh nonce, that it is a live enclave with
   * its registered wallet, key and measurement (§4.5; seed steps 4.1–4.3). An epoch other
   * than 0 is asked for by name and must be named back (§7.7); epoch 0 sends no field, so a
   * node from before epochs answers as it always did.
   * @throws PeerAttestationError if its document fails a check; KmsError 503 otherwise.
   */
  async requestMasterSecret(peer: Peer, epoch = 0): Promise<Uint8Array> {
    await this.#attestResponder(peer)
    const ephemeral = await generateP384PrivateKey(this.#options.random)
    const answer = await this.#send(peer, 'master_secret_request', { ecdh_pubkey: bytesToHex(ephemeral.publicKey.der), ...(epoch === 0 ? {} : { epoch }) })
    if ((answer['epoch'] ?? 0) !== epoch) throw syncFailure(`peer answered the secret of another epoch than ${epoch}`)
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

  /** `GET <peer>/attestation?nonce=<fresh>` (bounded, no redirect), verified against the peer cache's record. */
  async #attestResponder(peer: Peer): Promise<void> {
    const { fetch, random, peerAttestation } = this.#options
    const nonce = random.bytes(ATTESTATION_NONCE_BYTES)
    const url = `${peerEndpoint(peer.url, '/attestation')}?nonce=${encodeURIComponent(bytesToBase64(nonce))}`
    const { response, signal } = await fetchPeer(fetch, url, { method: 'GET' }, SYNC_TIMEOUTS_MS.attestation)
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel().catch(() => undefined)
      throw syncFailure(`peer /attestation answered ${response.status}`)
    }
    const bytes = await readBoundedBody(response, PEER_REPLY_LIMITS.attestation, signal)
    try {
      let text: unknown
      try {
        text = (JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown> | null)?.['attestation']
      } catch {
        text = undefined
      }
      if (typeof text !== 'string') throw new PeerAttestationError('unreadable answer')
      let document: Uint8Array
      try {
        document = decodeAttestationText(text, 'base64')
      } catch (error) {
        throw new PeerAttestationError('unreadable answer', { cause: error })
      }
      await verifyResponderAttestation({ document, nonce, peer, policy: peerAttestation.policy() })
      peerAttestation.onResult?.('responder', 'ok')
    } catch (error) {
      if (isPeerAttestationError(error)) peerAttestation.onResult?.('responder', error.check)
      throw error
    }
  }

  /** True when only v2 may go to, or be accepted from, `wallet` (§3.6). */
  #v2Only(wallet: Wallet): boolean {
    return this.#options.minSyncVersion === 2 || this.versions.isV2(wallet)
  }

  /**
   * v2 first. The one retry as v1 (a rolling upgrade, §3.6) needs all of: MIN_SYNC_VERSION=1,
   * no v2 ever verified from this wallet, and an unbound 403 `KMS wallet header does not
   * match signature`, which is what a v1 node answers a v2 PoP. The host can forge that
   * answer, so it can downgrade only a peer that has never proven v2, as §3.6 accepts
   * until MIN_SYNC_VERSION=2.
   */
  async #send(peer: Peer, type: SyncType, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    try {
      return await this.#exchange(peer, type, fields, 2)
    } catch (error) {
      if (!(error instanceof V1Refusal)) throw error
      if (this.#v2Only(peer.wallet)) throw syncFailure('peer refused v2 and v1 is not allowed to it')
      return this.#exchange(peer, type, fields, 1)
    }
  }

  async #exchange(peer: Peer, type: SyncType, fields: Record<string, unknown>, version: 1 | 2): Promise<Record<string, unknown>> {
    const { fetch, tee, clock, signSyncBody } = this.#options
    const ownWallet = this.#options.ownWallet()
    if (ownWallet === undefined) throw syncFailure('own wallet unknown')

    const nonce = await this.#fetchNonce(peer)
    const timestamp = nowSeconds(clock)
    const envelope = await sealEnvelope(tee, { type, sender_wallet: ownWallet, ...fields }, peer.teePubkeyDer)
    // The exact bytes sent are the ones hashed (§3.6): fetch sends the text as UTF-8, and
    // JSON.stringify output is always well-formed.
    const text = JSON.stringify(envelope)
    const body = utf8ToBytes(text)
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-kms-nonce': nonce,
      'x-kms-timestamp': String(timestamp),
      'x-kms-wallet': ownWallet,
    }
    let signature: string
    let mac: string | undefined
    if (version === 2) {
      const contentSha256 = computeContentSha256(body)
      const requestDigest = computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 })
      signature = await tee.signMessage(buildPeerAuthMessageV2({ nonce, wallet: peer.wallet, timestamp, requestDigest }))
      headers['x-sync-version'] = '2'
      headers['x-app-content-sha256'] = contentSha256
      mac = await signSyncBody(envelope, nonce)
      // §4.5: the requester's own document, for this responder, this request and its nonce.
      if (type === 'master_secret_request') headers['x-kms-attestation'] = await this.#ownAttestation(peer, ownWallet, nonce, requestDigest)
    } else {
      signature = await tee.signMessage(buildPeerAuthMessage({ nonce, wallet: peer.wallet, timestamp }))
      mac = await signSyncBody(envelope)
    }
    headers['x-kms-signature'] = signature
    if (mac !== undefined) headers['x-sync-signature'] = mac

    const { response, signal } = await fetchPeer(fetch, peerEndpoint(peer.url, '/sync'), { method: 'POST', headers, body: text }, SYNC_TIMEOUTS_MS[type])
    const ok = response.status >= 200 && response.status < 300
    // An error answer is `{"code","message"}`: a small cap; a 2xx is bounded like a request.
    const answer = await readBoundedBody(response, ok ? this.#maxSyncPayloadBytes : PEER_REPLY_LIMITS.syncError, signal)
    this.#options.onTraffic?.(body.length, answer.length)

    if (version === 2) {
      // The answer counts only if the peer bound it, status and exact bytes, to our signature.
      const binding = response.headers.get('x-kms-peer-binding')
      const bound =
        binding !== null &&
        signerOf(
          buildResponseBindingMessage({ subject: signature, wallet: peer.wallet, status: response.status, bodySha256: computeContentSha256(answer) }),
          binding,
          peer.wallet,
        ) === peer.wallet
      if (!bound) {
        if (!ok && isV1Refusal(response.status, answer)) throw new V1Refusal()
        throw syncFailure(ok ? 'peer answer is not bound' : `peer answered ${response.status} without a binding`)
      }
      // Learnt from a verified signature only (§3.6): never v1 to this wallet again.
      this.versions.markV2(peer.wallet)
      if (!ok) throw refusalOf(response.status, answer) ?? syncFailure(`peer answered ${response.status}`, new TextDecoder().decode(answer).slice(0, 200))
    } else {
      if (!ok) throw syncFailure(`peer answered ${response.status}`, new TextDecoder().decode(answer).slice(0, 200))
      // A v1 answer counts only while the wallet has never proven v2 and v1 is allowed (§3.6).
      if (this.#v2Only(peer.wallet)) throw syncFailure('v1 answer from a peer that must speak v2')
      const peerSignature = response.headers.get('x-kms-peer-signature')
      if (peerSignature === null) throw syncFailure('peer answer is not signed')
      if (signerOf(buildResponseMessage({ signature, wallet: peer.wallet }), peerSignature, peer.wallet) !== peer.wallet) {
        throw syncFailure('peer answer is signed by another wallet')
      }
    }

    // …and it must be sealed with the peer's registered key (§4.1, fix).
    let parsed: unknown
    try {
      parsed = JSON.parse(new TextDecoder().decode(answer))
    } catch (error) {
      throw syncFailure('peer answer is not JSON', error)
    }
    if (!isEnvelope(parsed)) throw syncFailure('peer answer is not an envelope')
    return openEnvelope({ tee, envelope: parsed, expectedSenderDer: peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })
  }

  /** The requester's document for a `master_secret_request` (§4.5), base64. */
  async #ownAttestation(peer: Peer, ownWallet: Wallet, nonce: string, requestDigest: string): Promise<string> {
    const { tee } = this.#options
    const nonceBytes = parseBase64(nonce)
    if (nonceBytes === undefined) throw syncFailure('peer /nonce is not base64')
    const document = await tee.getAttestation({
      nonce: nonceBytes,
      publicKeyDer: await tee.getEncryptionPublicKey(),
      // The runtime injects eth_addr itself; it is given here too, for a helper that does not.
      userData: { eth_addr: ownWallet, nova_kms: { v: 2, purpose: 'sync', kms_wallet: peer.wallet, request_digest: requestDigest } },
    })
    return bytesToBase64(document)
  }

  /** `GET /nonce`: 5 s and 1 KiB at most, no redirect. */
  async #fetchNonce(peer: Peer): Promise<string> {
    const { response, signal } = await fetchPeer(this.#options.fetch, peerEndpoint(peer.url, '/nonce'), { method: 'GET' }, SYNC_TIMEOUTS_MS.nonce)
    if (response.status < 200 || response.status >= 300) {
      await response.body?.cancel().catch(() => undefined)
      throw syncFailure(`peer /nonce answered ${response.status}`)
    }
    const bytes = await readBoundedBody(response, PEER_REPLY_LIMITS.nonce, signal)
    let body: unknown
    try {
      body = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      body = undefined
    }
    const nonce = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['nonce'] : undefined
    if (typeof nonce !== 'string') throw syncFailure('peer /nonce answer has no nonce')
    return nonce
  }
}
