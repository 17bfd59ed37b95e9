/**
 * PROTOCOL §5.7 "Binding v2" vectors, the /sync part (§3.6): content hash, request digest,
 * the v2 peer PoP, the v2 MAC and the peer binding, recomputed by core and by independent
 * implementations (node:crypto, viem). The body is laid out as a requester sends it
 * (`JSON.stringify` of `sealEnvelope`'s object: sender_tee_pubkey, nonce, encrypted_data),
 * which is what the hash covers, not the canonical form the MAC covers.
 */
import { createHash, createHmac } from 'node:crypto'
import { privateKeyToAccount } from 'viem/accounts'
import { describe, expect, it } from 'vitest'
import {
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  computeContentSha256,
  computeRequestDigest,
  computeSyncSignature,
  deriveSyncKey,
  recoverMessageSigner,
  signMessageWithKey,
} from '../../../core/crypto'
import { bytesToHex, parseHex, utf8ToBytes, type Wallet } from '../../../core/encoding'

const NODE_KEY = '59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'
const NODE_WALLET: Wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const PEER_KEY = 'ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const PEER_WALLET: Wallet = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const NONCE = 'AAECAwQFBgcICQoLDA0ODw=='
const BODY = '{"sender_tee_pubkey":"cc","nonce":"bb","encrypted_data":"aa"}'
const CANONICAL = '{"encrypted_data":"aa","nonce":"bb","sender_tee_pubkey":"cc"}'
const ANSWER = '{"sender_tee_pubkey":"dd","nonce":"ee","encrypted_data":"ff"}'

const VECTOR = {
  contentSha256: '882662032afc81bf091bc5fdb88aa273457a32e5539cfbcdf118c2b059c41f46',
  requestDigest: '4ce8f81e24b90c983a95e49e0d153c919facc7f2cd3d2f1243129a6c228fcce0',
  pop: '0xc2927ebe7aacaa4fa9a894549700b489c5576f473f047448a993ceee41e1a02d512647603e0966b832c9100ffef16c1583ad8dae0ee8e6c56a7e23fe8055386001',
  mac: '86a7d68e6587d30c77bba366502904a8dc264818e91137dd8c0102c07f408049',
  answerSha256: '040050d189418f86c54dab7b25d60b11a81ab8689b780b80fd64c36160fbd6ee',
  binding: '0xa00482dc04a9768e21aeae4be1f3660e817211bab874eb093d063e4f4c82d70a1eac0be7e514931a57879f92dcd4a5cca5d5f002e56c929264d229db78fa50f000',
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex')

describe('PROTOCOL §5.7: sync binding v2 vectors (§3.6)', () => {
  it('behavior: the content hash and the request digest over POST /sync, the body as a requester lays it out', () => {
    expect(JSON.stringify({ sender_tee_pubkey: 'cc', nonce: 'bb', encrypted_data: 'aa' })).toBe(BODY)
    expect(computeContentSha256(utf8ToBytes(BODY))).toBe(VECTOR.contentSha256)
    expect(sha256(BODY)).toBe(VECTOR.contentSha256)
    expect(computeRequestDigest({ method: 'POST', target: '/sync', contentSha256: VECTOR.contentSha256 })).toBe(VECTOR.requestDigest)
    expect(sha256(`POST\n/sync\n${VECTOR.contentSha256}`)).toBe(VECTOR.requestDigest)
  })

  it('behavior: the node key signs the v2 peer PoP to the app-key wallet; viem agrees up to v', async () => {
    const message = buildPeerAuthMessageV2({ nonce: NONCE, wallet: PEER_WALLET, timestamp: 1_767_225_600, requestDigest: VECTOR.requestDigest })
    expect(message).toBe(`NovaKMS:Auth:v2:${NONCE}:${PEER_WALLET}:1767225600:${VECTOR.requestDigest}`)
    expect(signMessageWithKey(parseHex(NODE_KEY)!, message)).toBe(VECTOR.pop)
    const viem = await privateKeyToAccount(`0x${NODE_KEY}`).signMessage({ message })
    expect(viem.slice(0, 130)).toBe(VECTOR.pop.slice(0, 130))
    expect(recoverMessageSigner(message, VECTOR.pop)).toBe(NODE_WALLET)
  })

  it('behavior: the v2 MAC is HMAC(sync_key, nonce ‖ "\\n" ‖ canonical envelope), master 00…1f', async () => {
    const syncKey = await deriveSyncKey(Uint8Array.from({ length: 32 }, (_, index) => index))
    expect(bytesToHex(syncKey)).toBe('78dd59b0dd0507447c3e734ff942177f2dffce9d2e17201aa3ceb3cfc4358356')
    expect(await computeSyncSignature(syncKey, JSON.parse(BODY) as Record<string, string>, NONCE)).toBe(VECTOR.mac)
    expect(createHmac('sha256', syncKey).update(`${NONCE}\n${CANONICAL}`).digest('hex')).toBe(VECTOR.mac)
  })

  it('behavior: the answering peer (app key) binds its 200 answer to that PoP', async () => {
    expect(sha256(ANSWER)).toBe(VECTOR.answerSha256)
    const message = buildResponseBindingMessage({ subject: VECTOR.pop, wallet: PEER_WALLET, status: 200, bodySha256: VECTOR.answerSha256 })
    expect(message).toBe(`NovaKMS:Response:v2:${VECTOR.pop}:${PEER_WALLET}:200:${VECTOR.answerSha256}`)
    expect(signMessageWithKey(parseHex(PEER_KEY)!, message)).toBe(VECTOR.binding)
    const viem = await privateKeyToAccount(`0x${PEER_KEY}`).signMessage({ message })
    expect(viem.slice(0, 130)).toBe(VECTOR.binding.slice(0, 130))
    expect(recoverMessageSigner(message, VECTOR.binding)).toBe(PEER_WALLET)
  })
})
