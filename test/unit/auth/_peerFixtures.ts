/**
 * What the peer-authentication tests share: PROTOCOL §5.7 keys (the "app" key plays the
 * requesting peer, the node key the receiver), one instant, one master secret, and the peer
 * cache's entry for the requesting peer.
 */
import type { PeerAuthHeaders } from '../../../core/auth'
import type { InstanceRecord } from '../../../core/chain'
import type { Peer } from '../../../core/cluster'
import { computeContentSha256, computeRequestDigest, signMessageWithKey } from '../../../core/crypto'
import { parseHex, utf8ToBytes, type Wallet } from '../../../core/encoding'
import type { KeyRing } from '../../../core/keys'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

export const PEER_KEY = parseHex('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')!
export const PEER_WALLET: Wallet = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
export const OWN_WALLET: Wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
export const NOW_S = 1_767_225_600
export const MASTER = Uint8Array.from({ length: 32 }, (_, index) => index)
/** A placeholder DER: peer authentication stores it and never parses it. */
export const TEE_PUBKEY = Uint8Array.of(0x30, 0x76, ...new Uint8Array(118).fill(4))
export const ENVELOPE = { sender_tee_pubkey: 'cc', nonce: 'bb', encrypted_data: 'aa' }
export const BODY = utf8ToBytes(JSON.stringify(ENVELOPE))

/** The peer cache's entry for PEER_WALLET: ACTIVE, zkVerified, app 49, unless overridden. */
export function peer(overrides: Partial<InstanceRecord> = {}, teePubkeyDer: Uint8Array = TEE_PUBKEY): Peer {
  const instance: InstanceRecord = {
    instanceId: 3, appId: 49, versionId: 1, operator: PEER_WALLET, instanceUrl: 'https://peer.example', teePubkey: teePubkeyDer,
    teeWalletAddress: PEER_WALLET, zkVerified: true, status: 0, registeredAt: 1, ...overrides,
  }
  return { wallet: PEER_WALLET, url: instance.instanceUrl, teePubkeyDer, instance, version: { status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }, probe: undefined }
}

/** PEER_WALLET's v2 `/sync` headers over `body` (§3.6): PoP over POST /sync and its hash, the nonce-keyed MAC of ENVELOPE. */
export async function signedV2Headers(keys: KeyRing, nonce: string, body: Uint8Array = BODY): Promise<PeerAuthHeaders> {
  const contentSha256 = computeContentSha256(body)
  const digest = computeRequestDigest({ method: 'POST', target: '/sync', contentSha256 })
  return {
    signature: signMessageWithKey(PEER_KEY, `NovaKMS:Auth:v2:${nonce}:${OWN_WALLET}:${NOW_S}:${digest}`),
    nonce,
    timestamp: String(NOW_S),
    wallet: PEER_WALLET,
    syncSignature: (await keys.signSyncBody(ENVELOPE, nonce))!,
    version: '2',
    contentSha256,
  }
}

/** PEER_WALLET's v1 `/sync` headers (§4.2): PoP without a digest, the v1 MAC of ENVELOPE. */
export async function signedV1Headers(keys: KeyRing, nonce: string): Promise<PeerAuthHeaders> {
  return {
    signature: signMessageWithKey(PEER_KEY, `NovaKMS:Auth:${nonce}:${OWN_WALLET}:${NOW_S}`),
    nonce,
    timestamp: String(NOW_S),
    wallet: null,
    syncSignature: (await keys.signSyncBody(ENVELOPE))!,
  }
}
