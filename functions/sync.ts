/**
 * `POST /sync` (PROTOCOL §4.2): peer-to-peer replication and master-secret exchange. The
 * checks run exactly in §4.2's order; each comment names its step. Peer authentication is
 * `core/auth/authenticatePeer`, the dispatch `core/cluster/answerSync`.
 */
import { authenticatePeer } from '../core/auth'
import { answerSync } from '../core/cluster'
import { buildResponseMessage } from '../core/crypto'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { notReady } from '../core/keys'
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse, readJsonBody, requireEnvelope } from './_http'

type SyncView = Pick<KmsNode, 'keys' | 'identity' | 'nonces' | 'clock' | 'config' | 'peers' | 'tee' | 'store' | 'random'>

export const sync = defineFunction(
  { name: 'sync', routes: [{ path: '/sync', methods: ['POST'] }], gate: 'none', limiter: 'exempt', bodyLimit: 'sync' },
  async (request, node: SyncView) => {
    // 1. No secret, no sync: before any auth.
    const ownWallet = node.identity.wallet
    if (!node.keys.isInstalled || ownWallet === undefined) throw notReady()

    // 2–3. Peer PoP, then authorization from the peer cache only.
    const header = (name: string): string | null => request.headers.get(name)
    const authenticated = authenticatePeer({
      headers: {
        signature: header('x-kms-signature'),
        nonce: header('x-kms-nonce'),
        timestamp: header('x-kms-timestamp'),
        wallet: header('x-kms-wallet'),
        syncSignature: header('x-sync-signature'),
      },
      ownWallet,
      nonces: node.nonces,
      clock: node.clock,
      popTimeoutSeconds: node.config.popTimeoutSeconds,
      kmsAppId: node.config.kmsAppId,
      peers: node.peers,
      verifySyncBody: (body, signature) => node.keys.verifySyncBody(body, signature),
    })
    const { peer } = authenticated

    // 4–5. The envelope, from the peer's registered key.
    const body = await readJsonBody(request, node.config.maxSyncPayloadBytes)
    const envelope = requireEnvelope(body)
    const payload = await openEnvelope({ tee: node.tee, envelope, expectedSenderDer: peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })

    // 6–7. The claimed sender, then the HMAC (only the secret request is exempt).
    await authenticated.verifyPayload(body, payload)

    // The counter-signature comes before any merge (§4.2): if it fails, nothing is merged.
    const peerSignature = await node.tee.signMessage(buildResponseMessage({ signature: authenticated.signature, wallet: ownWallet }))
    // 8. Dispatch.
    const answer = await answerSync(payload, {
      store: node.store,
      canDecrypt: node.keys.canDecrypt,
      sealSecretFor: (requesterDer, random) => node.keys.sealSecretFor(requesterDer, random),
      random: node.random,
    })
    const sealed = await sealEnvelope(node.tee, answer, peer.teePubkeyDer)
    return jsonResponse(sealed, { headers: { 'x-kms-peer-signature': peerSignature } })
  },
)

