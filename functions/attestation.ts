/**
 * `GET /attestation?nonce=` (PROTOCOL §2.9): the node's own Nitro attestation, so a client
 * can check that it is a genuine enclave whose wallet and teePubkey the registry lists.
 */
import { bytesToBase64, parseAttestationNonce } from '../core/encoding'
import { KmsError } from '../core/errors'
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

const MIN_NONCE_BYTES = 16
const MAX_NONCE_BYTES = 64

export const attestation = defineFunction(
  { name: 'attestation', routes: [{ path: '/attestation', methods: ['GET'] }], gate: 'none', limiter: 'nonce', bodyLimit: 'request' },
  async (request, node: Pick<KmsNode, 'identity' | 'tee'>) => {
    const text = new URL(request.url).searchParams.get('nonce')
    const nonce = text === null ? undefined : parseAttestationNonce(text)
    if (nonce === undefined || nonce.length < MIN_NONCE_BYTES || nonce.length > MAX_NONCE_BYTES) {
      throw new KmsError('bad_request', "'nonce' must be base64 of 16..64 bytes")
    }
    const wallet = node.identity.wallet ?? (await node.tee.getWallet())
    const publicKeyDer = await node.tee.getEncryptionPublicKey()
    const document = await node.tee.getAttestation({ nonce, publicKeyDer, userData: { eth_addr: wallet } })
    return jsonResponse({ attestation: bytesToBase64(document) })
  },
)
