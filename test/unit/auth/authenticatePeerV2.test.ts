/**
 * Peer authentication, sync binding v2 (PROTOCOL §3.6, §4.2 steps 2–3 and 6–7): the version
 * first, the content hash header, the v2 PoP over POST /sync and that hash, the body against
 * the header, the nonce-keyed MAC, and the downgrade rules (MIN_SYNC_VERSION, the per-wallet
 * memory). A fake peer cache, a real NonceStore, KeyRing and SyncVersions.
 */
import { describe, expect, it } from 'vitest'
import { authenticatePeer, NonceStore, type PeerAuthHeaders } from '../../../core/auth'
import { SyncVersions, type Peer } from '../../../core/cluster'
import { computeContentSha256, signMessageWithKey } from '../../../core/crypto'
import { utf8ToBytes, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KeyRing } from '../../../core/keys'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { BODY, ENVELOPE, MASTER, NOW_S, OWN_WALLET, PEER_KEY, PEER_WALLET, peer, signedV1Headers, signedV2Headers } from './_peerFixtures'



async function setup(options: { cached?: Peer | null; minSyncVersion?: 1 | 2 } = {}) {
  const cached = options.cached === undefined ? peer() : options.cached
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(9), ttlSeconds: 120, capacity: 16 })
  const keys = new KeyRing({ kmsAppId: 49 })
  await keys.install(MASTER, 'generated')
  const versions = new SyncVersions()
  const lookups: Wallet[] = []
  const peers = { find: (wallet: Wallet) => {
    lookups.push(wallet)
    return wallet === PEER_WALLET && cached !== null ? cached : undefined
  } }
  /** A v2 request over `body` (its hash in the header unless overridden). */
  const v2 = async (overrides: Partial<PeerAuthHeaders> = {}, body: Uint8Array = BODY): Promise<PeerAuthHeaders> => ({
    ...(await signedV2Headers(keys, overrides.nonce ?? nonces.issue(), body)),
    ...overrides,
  })
  const v1 = async (overrides: Partial<PeerAuthHeaders> = {}): Promise<PeerAuthHeaders> => ({
    ...(await signedV1Headers(keys, overrides.nonce ?? nonces.issue())),
    ...overrides,
  })
  const authenticate = (headers: PeerAuthHeaders) =>
    authenticatePeer({
      headers, ownWallet: OWN_WALLET, nonces, clock, popTimeoutSeconds: 120, kmsAppId: 49, peers,
      verifySyncBody: (body, signature, nonce) => keys.verifySyncBody(body, signature, nonce),
      versions,
      ...(options.minSyncVersion === undefined ? {} : { minSyncVersion: options.minSyncVersion }),
    })
  return { clock, nonces, keys, versions, lookups, v1, v2, authenticate }
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

describe('authenticatePeer v2: the request (§3.6, §4.2 step 2)', () => {
  it('behavior: a v2 request is version 2; its exact body passes; the signer is remembered as v2 after the cache check', async () => {
    const { v2, authenticate, versions, lookups } = await setup()
    const result = authenticate(await v2())
    expect(result.version).toBe(2)
    expect(lookups).toEqual([PEER_WALLET])
    expect(versions.isV2(PEER_WALLET)).toBe(true)
    expect(() => result.verifyBody(BODY)).not.toThrow()
    expect(await failure(() => result.verifyBody(utf8ToBytes(JSON.stringify({ ...ENVELOPE, nonce: 'bc' }))))).toEqual(unauthorized('Request binding mismatch'))
    expect(await failure(() => result.verifyBody(new Uint8Array(0)))).toEqual(unauthorized('Request binding mismatch'))
    await expect(result.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: PEER_WALLET })).resolves.toBeUndefined()
  })

  it('error: the version comes first: Unsupported sync version before anything else, no nonce spent', async () => {
    const { v2, authenticate, nonces } = await setup()
    for (const version of ['3', '0', 'v2', '', '2.0']) {
      const headers = await v2({ version, signature: null })
      expect(await failure(() => authenticate(headers))).toEqual({ code: 'bad_request', message: 'Unsupported sync version' })
      expect(nonces.consume(headers.nonce!)).toBe(true)
    }
    // `1`, absent and surrounding spaces are v1 (and fail as v1 here: a v2 signature).
    for (const version of ['1', ' 1 ', null, undefined]) {
      expect((await failure(async () => authenticate(await v2({ version, wallet: null })))).code).toBe('forbidden')
    }
  })

  it('error: Missing x-app-content-sha256 after the nonce header and before the timestamp is judged, no nonce spent', async () => {
    const { v2, authenticate, nonces } = await setup()
    for (const contentSha256 of [null, '', 'zz', '00'.repeat(31)]) {
      const headers = await v2({ contentSha256, timestamp: String(NOW_S - 500) })
      expect(await failure(() => authenticate(headers))).toEqual(unauthorized('Missing x-app-content-sha256'))
      expect(nonces.consume(headers.nonce!)).toBe(true)
    }
    // Upper case is the same hash.
    const upper = await v2()
    expect(authenticate({ ...upper, contentSha256: upper.contentSha256!.toUpperCase() }).version).toBe(2)
  })

  it('error: Missing x-kms-wallet, then Request binding mismatch for a signature over another digest', async () => {
    const { v2, authenticate } = await setup()
    expect(await failure(async () => authenticate(await v2({ wallet: null })))).toEqual(unauthorized('Missing x-kms-wallet'))
    const other = await v2({}, utf8ToBytes('{"other":1}'))
    expect(await failure(() => authenticate({ ...other, contentSha256: computeContentSha256(BODY) }))).toEqual(unauthorized('Request binding mismatch'))
    // A v1 string signed under a v2 header recovers another signer too.
    const v1Signed = await v2()
    const v1Signature = signMessageWithKey(PEER_KEY, `NovaKMS:Auth:${v1Signed.nonce}:${OWN_WALLET}:${NOW_S}`)
    expect(await failure(() => authenticate({ ...v1Signed, signature: v1Signature }))).toEqual(unauthorized('Request binding mismatch'))
  })

  it('error: a v2 request from a wallet the cache refuses is not remembered', async () => {
    const { v2, authenticate, versions } = await setup({ cached: peer({ zkVerified: false }) })
    expect(await failure(async () => authenticate(await v2()))).toEqual({ code: 'forbidden', message: 'Peer not zk-verified' })
    expect(versions.size).toBe(0)
  })
})

describe('authenticatePeer v2: the MAC covers the nonce (§3.6, §4.2 step 7)', () => {
  it('error: a v2 MAC over another nonce, or a v1 MAC, is Invalid HMAC signature: an old body cannot ride on fresh headers', async () => {
    const { v2, authenticate, keys } = await setup()
    const old = await v2()
    const fresh = await v2()
    const replayed = authenticate({ ...fresh, syncSignature: old.syncSignature })
    expect(await failure(() => replayed.verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
    const v1Mac = (await keys.signSyncBody(ENVELOPE))!
    const withV1Mac = authenticate({ ...(await v2()), syncSignature: v1Mac })
    expect(await failure(() => withV1Mac.verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
    // …and a v1 request carrying a v2 MAC fails the same way.
    const other = await setup()
    const v1Request = await other.v1()
    const v2Mac = (await other.keys.signSyncBody(ENVELOPE, v1Request.nonce!))!
    const v1WithV2Mac = other.authenticate({ ...v1Request, syncSignature: v2Mac })
    expect(await failure(() => v1WithV2Mac.verifyPayload(ENVELOPE, { type: 'delta' }))).toEqual(unauthorized('Invalid HMAC signature'))
  })

  it('behavior: master_secret_request stays exempt from the MAC in v2', async () => {
    const { v2, authenticate } = await setup()
    const result = authenticate(await v2({ syncSignature: null }))
    await expect(result.verifyPayload(ENVELOPE, { type: 'master_secret_request', ecdh_pubkey: 'aa' })).resolves.toBeUndefined()
  })
})

describe('authenticatePeer: downgrade (§3.6)', () => {
  it('error: MIN_SYNC_VERSION=2 refuses v1 from everyone with Sync binding required, before any PoP check', async () => {
    const { v1, v2, authenticate, nonces, lookups } = await setup({ minSyncVersion: 2 })
    const headers = await v1()
    expect(await failure(() => authenticate(headers))).toEqual(unauthorized('Sync binding required'))
    expect(await failure(() => authenticate({ ...headers, signature: null }))).toEqual(unauthorized('Sync binding required'))
    expect(nonces.consume(headers.nonce!)).toBe(true)
    expect(lookups).toEqual([])
    expect(authenticate(await v2()).version).toBe(2)
  })

  it('error: after a verified v2 request from W, v1 from W is Sync binding required (after PoP, before the cache)', async () => {
    const { v1, v2, authenticate, nonces, lookups } = await setup()
    expect(authenticate(await v1()).version).toBe(1)
    authenticate(await v2())
    lookups.length = 0
    const headers = await v1()
    expect(await failure(() => authenticate(headers))).toEqual(unauthorized('Sync binding required'))
    expect(nonces.consume(headers.nonce!)).toBe(false)
    expect(lookups).toEqual([])
    // The wallet header changes nothing: the signer is the one remembered.
    expect(await failure(async () => authenticate(await v1({ wallet: PEER_WALLET })))).toEqual(unauthorized('Sync binding required'))
  })

  it('behavior: v1 requests keep the v1 rules: any body passes verifyBody, the v1 MAC is over the envelope alone', async () => {
    const { v1, authenticate } = await setup()
    const result = authenticate(await v1())
    expect(result.version).toBe(1)
    expect(() => result.verifyBody(utf8ToBytes('anything'))).not.toThrow()
    await expect(result.verifyPayload(ENVELOPE, { type: 'delta' })).resolves.toBeUndefined()
  })
})
