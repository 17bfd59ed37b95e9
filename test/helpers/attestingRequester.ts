/**
 * A KMS instance that asks for the master secret by hand (PROTOCOL §4.1, §3.6, §4.5), so
 * tests can attach what a correct node never would: a document for another wallet or another
 * recipient, without `nova_kms`, stale, replayed, with other PCRs. Its wallet and P-384 key
 * are its own; once a test registers them, PoP and the peer cache pass and only the document
 * decides. The request is v2, built as core/cluster/syncClient.ts `#exchange` builds it; the
 * documents are the dev stand-in's (core/tee/devAttestation.ts), which dev mode trusts.
 */
import {
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  computeContentSha256,
  computeRequestDigest,
  generateP384PrivateKey,
  generateWalletPrivateKey,
  recoverMessageSigner,
  unsealMasterSecret,
  type P384PrivateKey,
} from '../../core/crypto'
import { bytesToBase64, bytesToHex, parseBase64, parseHex, utf8ToBytes, type JsonValue, type Wallet } from '../../core/encoding'
import { isEnvelope, openEnvelope, sealEnvelope } from '../../core/envelope'
import { createLocalTee, issueDevAttestation, type Tee } from '../../core/tee'
import { cryptoRandom } from './kmsNodes'
import type { SyncTarget } from './roguePeer'

/** One `master_secret_request`, ready to send but for `X-KMS-Attestation`. */
export interface SecretRequest {
  target: SyncTarget
  headers: Record<string, string>
  body: string
  /** `X-KMS-Nonce` (base64): the document must carry its bytes as `nonce`. */
  nonce: string
  /** The §3.6 digest the PoP covers, which `user_data.nova_kms.request_digest` must name. */
  requestDigest: string
  /** Sent as `ecdh_pubkey`; only it can unseal the answer. */
  ephemeral: P384PrivateKey
}

/** What a document says, when it must not say what a correct requester's does. */
export interface DocumentOptions {
  /** Default: the PoP nonce's bytes. */
  nonce?: Uint8Array
  /** `user_data.eth_addr`; default: the requester's wallet. */
  wallet?: Wallet
  /** `public_key`; default: the requester's registered teePubkey. */
  publicKeyDer?: Uint8Array
  /** The document's timestamp; default: now. */
  nowMs?: number
  /** PCR overrides; default: all zero, the dev measurement. */
  pcrs?: ReadonlyMap<number, Uint8Array>
  /** `user_data.nova_kms`; `null` leaves it out. Default: v 2, sync, the target, the request's digest. */
  novaKms?: Record<string, JsonValue> | null
}

export interface SecretAnswer {
  status: number
  /** The parsed body: `{"code","message"}` or a sealed envelope. */
  body: unknown
  /** `X-KMS-Peer-Binding` recovers to the target's wallet over this status and exact body (§3.6). */
  bound: boolean
}

export interface AttestingRequester {
  wallet: Wallet
  /** DER SPKI of its P-384 key: register it as the instance's teePubkey. */
  teePubkeyDer: Uint8Array
  /** GET /nonce from `target`, then the PoP, the envelope and the headers. */
  prepare(target: SyncTarget): Promise<SecretRequest>
  /** A dev-rooted document (base64) for `request`, correct unless `options` say otherwise. */
  document(request: SecretRequest, options?: DocumentOptions): Promise<string>
  /** POSTs `request` to the target's /sync, with `attestation` as `X-KMS-Attestation` if given. */
  send(request: SecretRequest, attestation: string | undefined): Promise<SecretAnswer>
  /**
   * The master secret from a 200 answer: the envelope must come from the target's registered
   * key and hold `sealed`, which the request's ephemeral key opens.
   */
  openSecret(request: SecretRequest, answer: SecretAnswer): Promise<Uint8Array>
}

export async function createAttestingRequester(): Promise<AttestingRequester> {
  const tee: Tee = await createLocalTee({ random: cryptoRandom, walletPrivateKey: generateWalletPrivateKey(cryptoRandom) })
  const wallet = await tee.getWallet()
  const teePubkeyDer = await tee.getEncryptionPublicKey()

  return {
    wallet,
    teePubkeyDer,
    async prepare(target) {
      const nonce = ((await (await fetch(`${target.url}/nonce`)).json()) as { nonce: string }).nonce
      const ephemeral = await generateP384PrivateKey(cryptoRandom)
      const payload = { type: 'master_secret_request', sender_wallet: wallet, ecdh_pubkey: bytesToHex(ephemeral.publicKey.der) }
      const body = JSON.stringify(await sealEnvelope(tee, payload, target.teePubkeyDer))
      const contentSha256 = computeContentSha256(utf8ToBytes(body))
      const requestDigest = computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 })
      const timestamp = Math.floor(Date.now() / 1000)
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'x-kms-nonce': nonce,
        'x-kms-timestamp': String(timestamp),
        'x-kms-wallet': wallet,
        'x-kms-signature': await tee.signMessage(buildPeerAuthMessageV2({ nonce, wallet: target.wallet, timestamp, requestDigest })),
        'x-sync-version': '2',
        'x-app-content-sha256': contentSha256,
      }
      // No X-Sync-Signature: a joiner has no secret, hence no sync key (§4.1 step 4).
      return { target, headers, body, nonce, requestDigest, ephemeral }
    },
    async document(request, options = {}) {
      const novaKms = options.novaKms === undefined ? { v: 2, purpose: 'sync', kms_wallet: request.target.wallet, request_digest: request.requestDigest } : options.novaKms
      const document = await issueDevAttestation({
        request: {
          nonce: options.nonce ?? parseBase64(request.nonce)!,
          publicKeyDer: options.publicKeyDer ?? teePubkeyDer,
          ...(novaKms === null ? {} : { userData: { nova_kms: novaKms } }),
        },
        wallet: options.wallet ?? wallet,
        teePublicKeyDer: teePubkeyDer,
        nowMs: options.nowMs ?? Date.now(),
        random: cryptoRandom,
        ...(options.pcrs === undefined ? {} : { pcrs: options.pcrs }),
      })
      return bytesToBase64(document)
    },
    async send(request, attestation) {
      const headers = attestation === undefined ? request.headers : { ...request.headers, 'x-kms-attestation': attestation }
      const response = await fetch(`${request.target.url}/sync`, { method: 'POST', headers, body: request.body })
      const raw = new Uint8Array(await response.arrayBuffer())
      const binding = response.headers.get('x-kms-peer-binding')
      const message = buildResponseBindingMessage({
        subject: request.headers['x-kms-signature']!,
        wallet: request.target.wallet,
        status: response.status,
        bodySha256: computeContentSha256(raw),
      })
      return { status: response.status, body: JSON.parse(new TextDecoder().decode(raw)), bound: binding !== null && recoverMessageSigner(message, binding) === request.target.wallet }
    },
    async openSecret(request, answer) {
      if (answer.status !== 200 || !isEnvelope(answer.body)) throw new Error(`expected a sealed 200 answer, got ${answer.status}`)
      const inner = await openEnvelope({ tee, envelope: answer.body, expectedSenderDer: request.target.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })
      const sealed = inner['sealed'] as Record<string, string> | undefined
      if (sealed === undefined) throw new Error('the answer holds no sealed secret')
      return unsealMasterSecret({
        ephemeralPrivateKey: request.ephemeral,
        sealed: { ephemeralPublicKeyDer: parseHex(sealed['ephemeral_pubkey']!)!, encryptedData: parseHex(sealed['encrypted_data']!)!, nonce: parseHex(sealed['nonce']!)! },
      })
    },
  }
}
