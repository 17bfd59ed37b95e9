/**
 * `POST /sync` (PROTOCOL §4.2): peer-to-peer replication and master-secret exchange. The
 * checks run exactly in §4.2's order; each comment names its step.
 */
import { verifyPop, parsePopTimestamp } from '../core/auth'
import { answerSync, syncTypeOf } from '../core/cluster'
import { buildResponseMessage, verifySyncSignature } from '../core/crypto'
import { parseWallet } from '../core/encoding'
import { openEnvelope, sealEnvelope } from '../core/envelope'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { jsonResponse, readJsonBody, requireEnvelope, type KmsFunction } from './_http'

function unauthorized(message: string): KmsError {
  return new KmsError('unauthorized', message)
}

function forbidden(message: string): KmsError {
  return new KmsError('forbidden', message)
}

export const sync: KmsFunction = async (request, node) => {
  // 1. No secret, no sync: before any auth.
  const installed = node.secret.installed
  const ownWallet = node.wallet
  if (installed === undefined || ownWallet === undefined) {
    throw new KmsError('service_unavailable', 'master secret not initialized')
  }

  // 2. Peer PoP, in §4.2's order.
  const signature = request.headers.get('x-kms-signature')
  if (signature === null) throw unauthorized('Missing x-kms-signature')
  const timestamp = request.headers.get('x-kms-timestamp')
  if (timestamp === null) throw unauthorized('Missing x-kms-timestamp')
  parsePopTimestamp(timestamp, 'x-kms-timestamp')
  const nonce = request.headers.get('x-kms-nonce')
  if (nonce === null) throw unauthorized('Missing x-kms-nonce')
  const signer = verifyPop({
    purpose: 'Auth',
    headers: { signature, nonce, timestamp, wallet: request.headers.get('x-kms-wallet') },
    ownWallet,
    nonces: node.nonces,
    clock: node.clock,
    popTimeoutSeconds: node.config.popTimeoutSeconds,
  })

  // 3. Peer authorization from the cache only: no chain call on this path.
  const peer = node.peers.find(signer)
  if (peer === undefined) throw forbidden(`Peer ${signer} not found in PeerCache`)
  if (peer.instance.status !== 0) throw forbidden('Peer instance not ACTIVE')
  if (!peer.instance.zkVerified) throw forbidden('Peer not zk-verified')
  if (peer.instance.appId !== node.config.kmsAppId) throw forbidden('Peer app_id mismatch')
  if (peer.teePubkeyDer.length === 0) throw forbidden('Peer tee_pubkey missing')

  // 4–5. The envelope, from the peer's registered key.
  const body = await readJsonBody(request, node.config.maxSyncPayloadBytes)
  const envelope = requireEnvelope(body)
  const payload = await openEnvelope({ tee: node.tee, envelope, expectedSenderDer: peer.teePubkeyDer, invalidPayloadMessage: 'Invalid sync payload' })

  // 6. A claimed sender must be the signer.
  const senderWallet = payload['sender_wallet']
  if (senderWallet !== undefined && (typeof senderWallet !== 'string' || parseWallet(senderWallet) !== signer)) {
    throw unauthorized('sender_wallet does not match PoP signature')
  }

  // 7. The HMAC, keyed from the master secret; only the secret request is exempt.
  if (syncTypeOf(payload) !== 'master_secret_request') {
    const mac = request.headers.get('x-sync-signature')
    if (mac === null) throw unauthorized('Missing HMAC signature')
    if (!(await verifySyncSignature({ syncKey: installed.syncKey, body, signature: mac }))) throw unauthorized('Invalid HMAC signature')
  }

  // The counter-signature comes before any merge (§4.2): if it fails, nothing is merged.
  const peerSignature = await node.tee.signMessage(buildResponseMessage({ signature, wallet: ownWallet }))
  // 8. Dispatch.
  const answer = await answerSync(payload, {
    store: node.store,
    canDecrypt: node.canDecrypt,
    masterSecret: installed.secret,
    random: node.random,
  })
  const sealed = await sealEnvelope(node.tee, answer, peer.teePubkeyDer)
  return jsonResponse(sealed, { headers: { 'x-kms-peer-signature': peerSignature } })
}
