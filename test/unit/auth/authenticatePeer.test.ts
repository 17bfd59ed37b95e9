/**
 * Peer authentication for `POST /sync` (PROTOCOL §4.2 steps 2–3 and 6–7): peer PoP in §4.2's
 * order, the peer cache alone (no chain call), then the claimed sender and the HMAC, which
 * only `master_secret_request` is exempt from. A fake peer cache `{ find }`, a real
 * NonceStore and a real KeyRing.
 */
import { describe, expect, it } from 'vitest'
import { authenticatePeer, NonceStore, type PeerAuthHeaders } from '../../../core/auth'
import type { Peer } from '../../../core/cluster'
import { signMessageWithKey } from '../../../core/crypto'
import type { Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KeyRing } from '../../../core/keys'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { MASTER, NOW_S, OWN_WALLET, PEER_KEY, PEER_WALLET, TEE_PUBKEY, peer } from './_peerFixtures'



/** `cached` is what the peer cache holds for the signer; `null` for nothing. */
async function setup(cached: Peer | null = peer()) {
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(9), ttlSeconds: 120, capacity: 16 })
  const keys = new KeyRing({ kmsAppId: 49 })
  await keys.install(MASTER, 'generated')
  const lookups: Wallet[] = []
  const peers = { find: (wallet: Wallet) => {
    lookups.push(wallet)
    return wallet === PEER_WALLET && cached !== null ? cached : undefined
  } }
  const signed = (overrides: Partial<PeerAuthHeaders> = {}, ts: number = NOW_S): PeerAuthHeaders => {
    const nonce = overrides.nonce ?? nonces.issue()
    return {
      signature: signMessageWithKey(PEER_KEY, `NovaKMS:Auth:${nonce}:${OWN_WALLET}:${ts}`),
      nonce,
      timestamp: String(ts),
      wallet: null,
      syncSignature: null,
      ...overrides,
    }
  }
  const authenticate = (headers: PeerAuthHeaders) =>
    authenticatePeer({
      headers,
      ownWallet: OWN_WALLET,
      nonces,
      clock,
      popTimeoutSeconds: 120,
      kmsAppId: 49,
      peers,
      verifySyncBody: (body, signature) => keys.verifySyncBody(body, signature),
    })
  return { clock, nonces, keys, lookups, signed, authenticate }
}

async function failure(run: () => unknown): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

const unauthorized = (message: string) => ({ code: 'unauthorized', message })
const forbidden = (message: string) => ({ code: 'forbidden', message })

describe('authenticatePeer: PoP (§4.2 step 2), in order', () => {
  it('behavior: a valid request returns the cached peer and the verbatim signature', async () => {
    const { signed, authenticate, lookups } = await setup()
    const headers = signed({ wallet: PEER_WALLET.toUpperCase().replace('0X', '0x') })
    const result = authenticate(headers)
    expect(result.peer.wallet).toBe(PEER_WALLET)
    expect(result.peer.teePubkeyDer).toEqual(TEE_PUBKEY)
    expect(result.signature).toBe(headers.signature)
    expect(lookups).toEqual([PEER_WALLET])
  })

  it('error: Missing x-kms-signature comes first, whatever else is missing', async () => {
    const { authenticate } = await setup()
    const none: PeerAuthHeaders = { signature: null, nonce: null, timestamp: null, wallet: null, syncSignature: null }
    expect(await failure(() => authenticate(none))).toEqual(unauthorized('Missing x-kms-signature'))
  })

  it('error: Missing x-kms-timestamp, then Invalid x-kms-timestamp, both before the nonce is looked at', async () => {
    const { signed, authenticate } = await setup()
    expect(await failure(() => authenticate({ ...signed(), timestamp: null, nonce: null }))).toEqual(unauthorized('Missing x-kms-timestamp'))
    for (const timestamp of ['abc', '', '-1', '1.5', '123456789012345678901', '18446744073709551616']) {
      expect(await failure(() => authenticate({ ...signed(), timestamp, nonce: null }))).toEqual(unauthorized('Invalid x-kms-timestamp'))
    }
  })

  it('error: Missing x-kms-nonce', async () => {
    const { signed, authenticate } = await setup()
    expect(await failure(() => authenticate({ ...signed(), nonce: null }))).toEqual(unauthorized('Missing x-kms-nonce'))
  })

  it('error: Stale timestamp, checked before the nonce is consumed', async () => {
    const { signed, authenticate, nonces } = await setup()
    const nonce = nonces.issue()
    expect(await failure(() => authenticate(signed({ nonce }, NOW_S - 121)))).toEqual(unauthorized('Stale timestamp'))
    expect(await failure(() => authenticate(signed({ nonce }, NOW_S + 121)))).toEqual(unauthorized('Stale timestamp'))
    // The nonce is intact: the same nonce with a fresh timestamp passes.
    expect(authenticate(signed({ nonce }, NOW_S + 120)).peer.wallet).toBe(PEER_WALLET)
  })

  it('error: Invalid nonce encoding, then Invalid or expired nonce (unissued, replayed, expired)', async () => {
    const { signed, authenticate, clock } = await setup()
    expect(await failure(() => authenticate(signed({ nonce: 'not base64!' })))).toEqual(unauthorized('Invalid nonce encoding'))
    expect(await failure(() => authenticate(signed({ nonce: 'AAECAwQFBgcICQoLDA0ODw==' })))).toEqual(unauthorized('Invalid or expired nonce'))
    const headers = signed()
    authenticate(headers)
    expect(await failure(() => authenticate(headers))).toEqual(unauthorized('Invalid or expired nonce'))
    const late = signed()
    clock.advanceSeconds(121)
    expect(await failure(() => authenticate(signed({ nonce: late.nonce }, NOW_S + 121)))).toEqual(unauthorized('Invalid or expired nonce'))
  })

  it('error: Invalid signature format and Invalid signature', async () => {
    const { signed, authenticate } = await setup()
    const good = signed()
    expect(await failure(() => authenticate({ ...signed(), signature: good.signature!.slice(0, -2) + '1d' }))).toEqual(unauthorized('Invalid signature format'))
    expect(await failure(() => authenticate({ ...signed(), signature: 'zz' }))).toEqual(unauthorized('Invalid signature format'))
    expect(await failure(() => authenticate({ ...signed(), signature: '0x' + '00'.repeat(64) + '1b' }))).toEqual(unauthorized('Invalid signature'))
  })

  it('error: the signature binds the recipient and the purpose: an app PoP string recovers another signer', async () => {
    const { signed, authenticate, nonces } = await setup()
    const nonce = nonces.issue()
    const appPop = signMessageWithKey(PEER_KEY, `NovaKMS:AppAuth:${nonce}:${OWN_WALLET}:${NOW_S}`)
    const refused = await failure(() => authenticate(signed({ nonce, signature: appPop })))
    expect(refused.code).toBe('forbidden')
    expect(refused.message).toMatch(/^Peer 0x[0-9a-f]{40} not found in PeerCache$/)
    expect(refused.message).not.toContain(PEER_WALLET)
  })

  it('error: Invalid wallet address, then KMS wallet header does not match signature', async () => {
    const { signed, authenticate } = await setup()
    expect(await failure(() => authenticate(signed({ wallet: 'nope' })))).toEqual(unauthorized('Invalid wallet address'))
    expect(await failure(() => authenticate(signed({ wallet: OWN_WALLET })))).toEqual(unauthorized('KMS wallet header does not match signature'))
  })

  it('behavior: the cache is not consulted until PoP has passed', async () => {
    const { signed, authenticate, lookups } = await setup()
    await failure(() => authenticate(signed({}, NOW_S - 500)))
    await failure(() => authenticate(signed({ wallet: OWN_WALLET })))
    expect(lookups).toEqual([])
  })
})

describe('authenticatePeer: the peer cache (§4.2 step 3), in order', () => {
  it('error: a signer the cache does not hold is forbidden, named in canonical form', async () => {
    const { signed, authenticate } = await setup(null)
    expect(await failure(() => authenticate(signed()))).toEqual(forbidden(`Peer ${PEER_WALLET} not found in PeerCache`))
  })

  it('error: each ineligibility in §4.2 order, the first one failing winning', async () => {
    const cases: [Peer, string][] = [
      [peer({ status: 1, zkVerified: false, appId: 50 }, new Uint8Array(0)), 'Peer instance not ACTIVE'],
      [peer({ status: 2 }), 'Peer instance not ACTIVE'],
      [peer({ zkVerified: false, appId: 50 }, new Uint8Array(0)), 'Peer not zk-verified'],
      [peer({ appId: 50 }, new Uint8Array(0)), 'Peer app_id mismatch'],
      [peer({}, new Uint8Array(0)), 'Peer tee_pubkey missing'],
    ]
    for (const [cached, message] of cases) {
      const { signed, authenticate } = await setup(cached)
      expect(await failure(() => authenticate(signed()))).toEqual(forbidden(message))
    }
  })

  it('behavior: a refused peer has still spent its nonce (PoP came first)', async () => {
    const { signed, authenticate, nonces } = await setup(peer({ zkVerified: false }))
    const headers = signed()
    await failure(() => authenticate(headers))
    expect(nonces.consume(headers.nonce!)).toBe(false)
  })
})

describe('authenticatePeer: the opened payload (§4.2 steps 6–7)', () => {
  const ENVELOPE = { sender_tee_pubkey: 'aa', nonce: 'bb', encrypted_data: 'cc' }

  it('behavior: a delta with the HMAC over the received body passes', async () => {
    const { signed, authenticate, keys } = await setup()
    const mac = (await keys.signSyncBody(ENVELOPE))!
    const result = authenticate(signed({ syncSignature: mac }))
    await expect(result.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: PEER_WALLET, data: {} })).resolves.toBeUndefined()
    // A checksummed sender_wallet canonicalises to the signer; an absent one is fine.
    await expect(result.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' })).resolves.toBeUndefined()
    await expect(result.verifyPayload(ENVELOPE, { type: 'snapshot_request' })).resolves.toBeUndefined()
  })

  it('error: sender_wallet that is not the signer, not a wallet or not a string', async () => {
    const { signed, authenticate, keys } = await setup()
    const result = authenticate(signed({ syncSignature: (await keys.signSyncBody(ENVELOPE))! }))
    for (const senderWallet of [OWN_WALLET, 'not-a-wallet', 42, null, ['0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266']]) {
      expect(await failure(() => result.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: senderWallet }))).toEqual(unauthorized('sender_wallet does not match PoP signature'))
    }
  })

  it('error: the sender check comes before the HMAC, for master_secret_request too', async () => {
    const { signed, authenticate } = await setup()
    const result = authenticate(signed())
    expect(await failure(() => result.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: OWN_WALLET }))).toEqual(unauthorized('sender_wallet does not match PoP signature'))
    expect(await failure(() => result.verifyPayload(ENVELOPE, { type: 'master_secret_request', sender_wallet: OWN_WALLET }))).toEqual(unauthorized('sender_wallet does not match PoP signature'))
  })

  it('error: Missing HMAC signature and Invalid HMAC signature', async () => {
    const { signed, authenticate, keys } = await setup()
    const mac = (await keys.signSyncBody(ENVELOPE))!
    expect(await failure(() => authenticate(signed()).verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Missing HMAC signature'))
    for (const bad of ['00'.repeat(32), mac.slice(0, -2), mac + '00', 'zz', '']) {
      expect(await failure(() => authenticate(signed({ syncSignature: bad })).verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
    }
    // The MAC covers the received body, not the decrypted payload.
    expect(await failure(() => authenticate(signed({ syncSignature: mac })).verifyPayload({ ...ENVELOPE, nonce: 'bc' }, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
  })

  it('behavior: only master_secret_request is exempt from the HMAC', async () => {
    const { signed, authenticate } = await setup()
    await expect(authenticate(signed()).verifyPayload(ENVELOPE, { type: 'master_secret_request', sender_wallet: PEER_WALLET, ecdh_pubkey: 'aa' })).resolves.toBeUndefined()
    await expect(authenticate(signed({ syncSignature: '00'.repeat(32) })).verifyPayload(ENVELOPE, { type: 'master_secret_request' })).resolves.toBeUndefined()
    for (const type of ['delta', 'snapshot_request', 'MASTER_SECRET_REQUEST', 'master_secret_request ', '', undefined, 7]) {
      expect(await failure(() => authenticate(signed()).verifyPayload(ENVELOPE, { type }))).toEqual(unauthorized('Missing HMAC signature'))
    }
  })

  it('error: without a secret no HMAC verifies', async () => {
    const { signed, nonces, clock } = await setup()
    const signer = new KeyRing({ kmsAppId: 49 })
    await signer.install(MASTER, 'generated')
    const mac = (await signer.signSyncBody(ENVELOPE))!
    const empty = new KeyRing({ kmsAppId: 49 })
    const result = authenticatePeer({
      headers: signed({ syncSignature: mac }), ownWallet: OWN_WALLET, nonces, clock, popTimeoutSeconds: 120, kmsAppId: 49,
      peers: { find: () => peer() }, verifySyncBody: (body, signature) => empty.verifySyncBody(body, signature),
    })
    expect(await failure(() => result.verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
  })
})
