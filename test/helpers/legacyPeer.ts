/**
 * A KMS node from before sync binding v2 (PROTOCOL §4 as it was), for mixed-cluster tests:
 * a node:http server on loopback whose `/nonce` and `/sync` are composed of core functions
 * the way `functions/sync.ts` was before v2. It ignores `X-Sync-Version` and
 * `X-App-Content-SHA256` (as a v1 node does, so a v2 PoP recovers another signer than
 * `X-KMS-Wallet`), checks the v1 HMAC, and answers with `X-KMS-Peer-Signature`. It holds the
 * cluster's master secret, so it merges deltas and serves snapshots and the secret like any
 * member. Its own requests are made by hand (`request`), v1 as it would, or v2 to play its
 * upgrade.
 */
import { createServer, type Server } from 'node:http'
import { authenticatePeer, NonceStore } from '../../core/auth'
import { answerSync, type Peer } from '../../core/cluster'
import {
  buildPeerAuthMessage,
  buildPeerAuthMessageV2,
  buildResponseMessage,
  computeContentSha256,
  computeRequestDigest,
  generateWalletPrivateKey,
} from '../../core/crypto'
import { parseWallet, utf8ToBytes, type Wallet } from '../../core/encoding'
import { isEnvelope, openEnvelope, sealEnvelope } from '../../core/envelope'
import { KmsError } from '../../core/errors'
import { KeyRing } from '../../core/keys'
import { KvStore } from '../../core/store'
import { createLocalTee, type Tee } from '../../core/tee'
import { LOOPBACK } from '../../bundle/processes'
import { cryptoRandom, systemClock } from './kmsNodes'
import { DEV_CODE_MEASUREMENT } from './devMeasurement'

export interface LegacyRequestRecord {
  /** `X-Sync-Version` as received (`null` when absent). */
  version: string | null
  from: string | null
  status: number
}

export interface SyncTarget {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
}

export interface LegacyPeer {
  url: string
  wallet: Wallet
  teePubkeyDer: Uint8Array
  tee: Tee
  keys: KeyRing
  store: KvStore
  /** Every /sync request, in order, with the status it got. */
  readonly received: LegacyRequestRecord[]
  /** Lets `wallet` (with its registered key) sync with this node: its peer cache. */
  allow(wallet: Wallet, teePubkeyDer: Uint8Array): void
  /** A /sync request to `target`, built by hand as a node of `version` builds it (§4.1, §3.6). */
  request(target: SyncTarget, payload: Record<string, unknown>, version: 1 | 2): Promise<{ headers: Record<string, string>; body: string }>
  close(): Promise<void>
}

export async function startLegacyPeer(options: { masterSecret: Uint8Array; kmsAppId: number }): Promise<LegacyPeer> {
  const tee = await createLocalTee({ random: cryptoRandom, walletPrivateKey: generateWalletPrivateKey(cryptoRandom) })
  const wallet = await tee.getWallet()
  const teePubkeyDer = await tee.getEncryptionPublicKey()
  const keys = new KeyRing({ kmsAppId: options.kmsAppId })
  await keys.install(options.masterSecret, 'generated')
  const store = new KvStore({
    clock: systemClock,
    nodeWallet: () => wallet,
    limits: { maxAppStorageBytes: 10_485_760, maxValueSizeBytes: 1_048_576, tombstoneRetentionMs: 86_400_000, maxTombstonesPerApp: 10_000, maxClockSkewMs: 15_000 },
  })
  const nonces = new NonceStore({ clock: systemClock, random: cryptoRandom, ttlSeconds: 120, capacity: 4096 })
  const cache = new Map<Wallet, Peer>()
  const received: LegacyRequestRecord[] = []

  /** The pre-v2 `/sync`: §4.2 steps 1–8 with v1 PoP, v1 HMAC and the v1 counter-signature. */
  const answer = async (headers: Headers, raw: Buffer): Promise<{ status: number; body: string; headers: Record<string, string> }> => {
    const header = (name: string): string | null => headers.get(name)
    const authenticated = authenticatePeer({
      headers: { signature: header('x-kms-signature'), nonce: header('x-kms-nonce'), timestamp: header('x-kms-timestamp'), wallet: header('x-kms-wallet'), syncSignature: header('x-sync-signature') },
      ownWallet: wallet,
      nonces,
      clock: systemClock,
      popTimeoutSeconds: 120,
      kmsAppId: options.kmsAppId,
      peers: { find: (signer) => cache.get(signer) },
      verifySyncBody: (body, signature) => keys.verifySyncBody(body, signature),
    })
    let body: unknown
    try {
      body = JSON.parse(raw.toString('utf8'))
    } catch {
      throw new KmsError('bad_request', 'Invalid JSON body')
    }
    if (!isEnvelope(body)) throw new KmsError('bad_request', 'Request must be E2E encrypted. Plaintext fallback is disabled.')
    const payload = await openEnvelope({ tee, envelope: body, expectedSenderDer: authenticated.peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })
    await authenticated.verifyPayload(body, payload)
    const peerSignature = await tee.signMessage(buildResponseMessage({ signature: authenticated.signature, wallet }))
    const inner = await answerSync(payload, {
      store,
      canDecrypt: keys.canDecrypt,
      sealSecretFor: (requesterDer, random) => keys.sealSecretFor(requesterDer, random),
      random: cryptoRandom,
    })
    const sealed = await sealEnvelope(tee, inner, authenticated.peer.teePubkeyDer)
    return { status: 200, body: JSON.stringify(sealed), headers: { 'x-kms-peer-signature': peerSignature } }
  }

  const server: Server = createServer((incoming, outgoing) => {
    const chunks: Buffer[] = []
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
    incoming.on('end', () => {
      const path = new URL(incoming.url ?? '/', 'http://x').pathname
      if (path === '/nonce') {
        outgoing.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ nonce: nonces.issue() }))
        return
      }
      if (path !== '/sync') {
        outgoing.writeHead(404).end()
        return
      }
      const headers = new Headers()
      for (const [name, value] of Object.entries(incoming.headers)) if (typeof value === 'string') headers.set(name, value)
      const record: LegacyRequestRecord = { version: headers.get('x-sync-version'), from: headers.get('x-kms-wallet'), status: 0 }
      received.push(record)
      answer(headers, Buffer.concat(chunks)).then(
        (result) => {
          record.status = result.status
          outgoing.writeHead(result.status, { 'content-type': 'application/json', ...result.headers }).end(result.body)
        },
        (error: unknown) => {
          const refusal = error instanceof KmsError ? error : new KmsError('internal_error', 'Internal server error')
          record.status = refusal.status
          outgoing.writeHead(refusal.status, { 'content-type': 'application/json' }).end(JSON.stringify(refusal.toBody()))
        },
      )
    })
  })
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, () => resolve()))
  const address = server.address()
  const url = `http://${LOOPBACK}:${typeof address === 'object' && address !== null ? address.port : 0}`

  return {
    url,
    wallet,
    teePubkeyDer,
    tee,
    keys,
    store,
    received,
    allow(peerWallet, peerKey) {
      const canonical = parseWallet(peerWallet)!
      cache.set(canonical, {
        wallet: canonical,
        url: '',
        teePubkeyDer: peerKey,
        instance: { instanceId: 0, appId: options.kmsAppId, versionId: 1, operator: canonical, instanceUrl: '', teePubkey: peerKey, teeWalletAddress: canonical, zkVerified: true, status: 0, registeredAt: 0 },
        version: { status: 0, codeMeasurement: DEV_CODE_MEASUREMENT },
        probe: undefined,
      })
    },
    async request(target, payload, version) {
      const nonce = ((await (await fetch(`${target.url}/nonce`)).json()) as { nonce: string }).nonce
      const timestamp = Math.floor(Date.now() / 1000)
      const envelope = await sealEnvelope(tee, { sender_wallet: wallet, ...payload }, target.teePubkeyDer)
      const body = JSON.stringify(envelope)
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-kms-nonce': nonce, 'x-kms-timestamp': String(timestamp), 'x-kms-wallet': wallet }
      if (version === 2) {
        const contentSha256 = computeContentSha256(utf8ToBytes(body))
        const requestDigest = computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 })
        headers['x-kms-signature'] = await tee.signMessage(buildPeerAuthMessageV2({ nonce, wallet: target.wallet, timestamp, requestDigest }))
        headers['x-sync-version'] = '2'
        headers['x-app-content-sha256'] = contentSha256
        headers['x-sync-signature'] = (await keys.signSyncBody(envelope, nonce))!
      } else {
        headers['x-kms-signature'] = await tee.signMessage(buildPeerAuthMessage({ nonce, wallet: target.wallet, timestamp }))
        headers['x-sync-signature'] = (await keys.signSyncBody(envelope))!
      }
      return { headers, body }
    },
    close: () => {
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
