/**
 * `POST /sync` (PROTOCOL §4.2): peer-to-peer replication and master-secret exchange. The
 * checks run exactly in §4.2's order; each comment names its step. Peer authentication is
 * `core/auth/authenticatePeer`, the dispatch `core/cluster/answerSync`.
 *
 * Sync binding v2 (§3.6): the PoP is verified from the headers before a byte of the body is
 * read, the body is then checked against `X-App-Content-SHA256`, the HMAC covers the nonce,
 * and every answer after authentication, errors included, carries `X-KMS-Peer-Binding` over
 * its status and exact body instead of `X-KMS-Peer-Signature`.
 *
 * A `master_secret_request` also needs the requester's attestation document for this request
 * (§4.5, step 7a), checked only once PoP and the peer cache have passed.
 */
import { CLUSTER_CHAIN } from '../core/audit'
import { authenticatePeerAsync } from '../core/auth'
import { isPeerAttestationError } from '../core/auth/peerAttestationError'
import { verifyRequesterAttestation } from '../core/auth/verifyPeerAttestation'
import { answerSync, checkSecretRecipient, syncDataBudget, syncTypeOf } from '../core/cluster'
import { buildResponseBindingMessage, buildResponseMessage, computeContentSha256 } from '../core/crypto'
import type { Wallet } from '../core/encoding'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'
import { notReady } from '../core/keys'
import type { KmsNode } from '../core/node'
import { defineFunction, type NodeView } from './_define'
import { jsonResponse, parseJsonText, readBodyBytes, requireEnvelope } from './_http'
import { errorResponse } from './_stages/errorMapper'

type SyncView = Pick<
  KmsNode,
  'keys' | 'identity' | 'nonces' | 'clock' | 'config' | 'peers' | 'tee' | 'store' | 'random' | 'syncClient' | 'admission' | 'log' | 'metrics' | 'peerAttestationPolicy' | 'watermarks' | 'chain' | 'epochStatus' | 'audit' | 'signatures'
>

/** Maps an error after authentication to its answer, as the pipeline's mapper would. */
function answerForError(error: unknown, node: NodeView<'log'>): Response {
  if (error instanceof KmsError && error.status !== 500) return errorResponse(error)
  node.log('error', 'unhandled error', { error: error instanceof Error ? (error.stack ?? error.message) : String(error) })
  return errorResponse(error instanceof KmsError ? error : new KmsError('internal_error', 'Internal server error'))
}

/**
 * §3.6: the answer, whatever its status, signed over the request's `X-KMS-Signature`, the
 * own wallet, the status and the exact body.
 * @throws KmsError 503 when the helper cannot sign: the answer would be unbound.
 */
async function bindAnswer(response: Response, subject: string, ownWallet: Wallet, node: NodeView<'tee'>): Promise<Response> {
  const body = new Uint8Array(await response.arrayBuffer())
  const message = buildResponseBindingMessage({ subject, wallet: ownWallet, status: response.status, bodySha256: computeContentSha256(body) })
  const binding = await node.tee.signMessage(message)
  const headers = new Headers(response.headers)
  headers.set('x-kms-peer-binding', binding)
  return new Response(body, { status: response.status, headers })
}

export const sync = defineFunction(
  { name: 'sync', routes: [{ path: '/sync', methods: ['POST'] }], gate: 'none', limiter: 'exempt', bodyLimit: 'sync' },
  async (request, node: SyncView) => {
    // 1. No secret, no sync: before any auth.
    const ownWallet = node.identity.wallet
    if (!node.keys.isInstalled || ownWallet === undefined) throw notReady()
    // 1a. (fix) A peer cache older than PEER_CACHE_TTL_SECONDS may still list a peer the
    // registry has stopped: nothing leaves the node until the registry has been read again.
    if (node.peers.isStale()) throw new KmsError('service_unavailable', 'registry unreadable')

    // 2–3. The version, peer PoP (v2: over the announced body hash; recovered where the app
    // path's is, on the worker pool when there is one), then the peer cache.
    const header = (name: string): string | null => request.headers.get(name)
    const authenticated = await authenticatePeerAsync({
      headers: {
        signature: header('x-kms-signature'),
        nonce: header('x-kms-nonce'),
        timestamp: header('x-kms-timestamp'),
        wallet: header('x-kms-wallet'),
        syncSignature: header('x-sync-signature'),
        version: header('x-sync-version'),
        contentSha256: header('x-app-content-sha256'),
      },
      ownWallet,
      nonces: node.nonces,
      clock: node.clock,
      popTimeoutSeconds: node.config.popTimeoutSeconds,
      kmsAppId: node.config.kmsAppId,
      peers: node.peers,
      verifySyncBody: (body, signature, nonce) => node.keys.verifySyncBody(body, signature, nonce),
      minSyncVersion: node.config.minSyncVersion,
      versions: node.syncClient.versions,
      signatures: node.signatures,
    })
    const { peer, version } = authenticated

    const run = async (): Promise<Response> => {
      // 4–5. The body (v2: the one the PoP covers), then the envelope from the peer's registered key.
      const bytes = await readBodyBytes(request, node.config.maxSyncPayloadBytes, node.admission)
      authenticated.verifyBody(bytes)
      const body = parseJsonText(new TextDecoder('utf-8', { fatal: false }).decode(bytes), 'Invalid JSON body')
      const envelope = requireEnvelope(body)
      const payload = await openEnvelope({ tee: node.tee, envelope, expectedSenderDer: peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })

      // 6–7. The claimed sender, then the HMAC (only the secret request is exempt).
      await authenticated.verifyPayload(body, payload)
      // 7a. The secret request instead carries the requester's document for this request (§4.5).
      if (syncTypeOf(payload) === 'master_secret_request') {
        await verifyRequesterAttestation({
          header: header('x-kms-attestation'),
          peer,
          popNonce: authenticated.nonce,
          requestDigest: authenticated.requestDigest,
          ownWallet,
          policy: node.peerAttestationPolicy(),
        }).then(
          () => node.metrics.recordPeerAttestation('requester', 'ok'),
          (error: unknown) => {
            if (isPeerAttestationError(error)) node.metrics.recordPeerAttestation('requester', error.check)
            throw error
          },
        )
      }

      // v1: the counter-signature comes before any merge (§4.2): if it fails, nothing is merged.
      const peerSignature = version === 1 ? await node.tee.signMessage(buildResponseMessage({ signature: authenticated.signature, wallet: ownWallet })) : undefined
      // 8. Dispatch.
      const answer = await answerSync(payload, {
        store: node.store,
        // §6.8: what the peer sent is journaled as its, so it is never pushed back to it.
        relay: { sender: peer.wallet, watermarks: node.watermarks, cached: new Set(node.peers.peers.map((cached) => cached.wallet)) },
        canDecrypt: node.keys.canDecrypt,
        // §7.7: records under a live epoch this node has not fetched yet, or the next one (a peer
        // may have seen its commit before this node's tick), are asked for again later.
        awaitedKeyEpochs: () => awaitedKeyEpochs(node),
        sealSecretFor: (requesterDer, random, epoch) => node.keys.sealSecretFor(requesterDer, random, epoch),
        // §7.7: the requester as the registry says it is now, not as the peer cache remembers.
        authorizeSecretRecipient: (epoch) =>
          checkSecretRecipient({ registry: node.chain.novaAppRegistry, wallet: peer.wallet, kmsAppId: node.config.kmsAppId, epoch }),
        random: node.random,
        maxPageBytes: syncDataBudget(node.config.maxSyncPayloadBytes),
      })
      // §14.2: the cluster chain records every secret and snapshot page this node gives away.
      const syncType = syncTypeOf(payload)
      if (syncType === 'master_secret_request') {
        const epoch = typeof answer['epoch'] === 'number' ? answer['epoch'] : 0
        node.audit.append(CLUSTER_CHAIN, node.audit.newRequestId(), { op: 'secret_sent', peer: peer.wallet, epoch })
      } else if (syncType === 'snapshot_request') {
        node.audit.append(CLUSTER_CHAIN, node.audit.newRequestId(), { op: 'snapshot_sent', peer: peer.wallet })
      }
      const sealed = await sealEnvelope(node.tee, answer, peer.teePubkeyDer)
      return jsonResponse(sealed, peerSignature === undefined ? {} : { headers: { 'x-kms-peer-signature': peerSignature } })
    }
    if (version === 1) return run()
    // v2: the binding is made after the route has run, because it covers the body (§3.6).
    const response = await run().catch((error: unknown) => answerForError(error, node))
    return bindAnswer(response, authenticated.signature, ownWallet, node)
  },
)

/**
 * The key epochs this node expects to hold but does not yet (PROTOCOL §4.3 `refused_key_epochs`):
 * live epochs it lacks, and the one after the newest live epoch, which the chain may already
 * have opened and committed before this node's next `node_tick` reads it. At most three.
 */
function awaitedKeyEpochs(node: Pick<KmsNode, 'epochStatus' | 'keys'>): Set<number> {
  const { live } = node.epochStatus
  const newest = Math.max(0, ...live, ...node.keys.heldEpochs)
  return new Set([...live, newest + 1].filter((epoch) => !node.keys.holds(epoch)))
}
