/**
 * authenticatePeerAsync is authenticatePeer with the PoP recovery handed to a `SignatureWork`
 * (the Node worker pool), which `/sync` uses: every request must get the same peer or the same
 * error as from authenticatePeer, in the same order (a refused version spends no nonce; a
 * consumed nonce stays consumed), and the signer must be the one the work recovered.
 */
import { describe, expect, it } from 'vitest'
import { authenticatePeer, authenticatePeerAsync, NonceStore, type AuthenticatePeerParams, type PeerAuthHeaders } from '../../../core/auth'
import { SyncVersions, type Peer } from '../../../core/cluster'
import { computeContentSha256, inlineSignatureWork, type SignatureWork } from '../../../core/crypto'
import { utf8ToBytes, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { KeyRing } from '../../../core/keys'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { ENVELOPE, MASTER, NOW_S, OWN_WALLET, PEER_WALLET, peer, signedV1Headers, signedV2Headers } from './_peerFixtures'

const OTHER_WALLET: Wallet = '0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc'


/** One receiving node's state: a seeded nonce store, so that twins issue the same nonces. */
async function receiver(cached: Peer | undefined, minSyncVersion: 1 | 2 = 1) {
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(11), ttlSeconds: 120, capacity: 16 })
  const keys = new KeyRing({ kmsAppId: 49 })
  await keys.install(MASTER, 'generated')
  const params: AuthenticatePeerParams = {
    headers: { signature: null, nonce: null, timestamp: null, wallet: null, syncSignature: null },
    ownWallet: OWN_WALLET,
    nonces,
    clock,
    popTimeoutSeconds: 120,
    kmsAppId: 49,
    peers: { find: (wallet) => (wallet === PEER_WALLET ? cached : undefined) },
    verifySyncBody: (body, signature, nonce) => keys.verifySyncBody(body, signature, nonce),
    versions: new SyncVersions(),
    minSyncVersion,
  }
  return { params, nonces, keys }
}

type Built = Awaited<ReturnType<typeof receiver>>

const v2 = async ({ nonces, keys }: Built, overrides: Partial<PeerAuthHeaders> = {}, nonce = nonces.issue()): Promise<PeerAuthHeaders> => ({
  ...(await signedV2Headers(keys, nonce)),
  ...overrides,
})
const v1 = async ({ nonces, keys }: Built, overrides: Partial<PeerAuthHeaders> = {}, nonce = nonces.issue()): Promise<PeerAuthHeaders> => ({
  ...(await signedV1Headers(keys, nonce)),
  ...overrides,
})

interface Case {
  headers: (built: Built, nonce: string) => Promise<PeerAuthHeaders>
  cached?: Peer | undefined
  minSyncVersion?: 1 | 2
}

const CASES: Record<string, Case> = {
  'valid v2': { headers: (built, nonce) => v2(built, {}, nonce) },
  'valid v1': { headers: (built, nonce) => v1(built, {}, nonce) },
  'unknown version': { headers: (built, nonce) => v2(built, { version: '3' }, nonce) },
  'v1 below MIN_SYNC_VERSION': { headers: (built, nonce) => v1(built, {}, nonce), minSyncVersion: 2 },
  'missing signature': { headers: (built, nonce) => v2(built, { signature: null }, nonce) },
  'missing timestamp': { headers: (built, nonce) => v2(built, { timestamp: null }, nonce) },
  'bad timestamp': { headers: (built, nonce) => v2(built, { timestamp: '12x' }, nonce) },
  'missing nonce': { headers: (built, nonce) => v2(built, { nonce: null }, nonce) },
  'bad content hash': { headers: (built, nonce) => v2(built, { contentSha256: 'zz' }, nonce) },
  'stale timestamp': { headers: (built, nonce) => v1(built, { timestamp: String(NOW_S - 121) }, nonce) },
  'unissued nonce': { headers: (built, nonce) => v1(built, { nonce: 'AAECAwQFBgcICQoLDA0ODw==' }, nonce) },
  'bad signature': { headers: (built, nonce) => v2(built, { signature: '0x' + '00'.repeat(64) + '1b' }, nonce) },
  'v2 without wallet': { headers: (built, nonce) => v2(built, { wallet: null }, nonce) },
  'v2 other body hash': { headers: (built, nonce) => v2(built, { contentSha256: computeContentSha256(utf8ToBytes('{}')) }, nonce) },
  'not cached': { headers: (built, nonce) => v2(built, {}, nonce), cached: undefined },
  'not zk-verified': { headers: (built, nonce) => v2(built, {}, nonce), cached: peer({ zkVerified: false }) },
  'other app': { headers: (built, nonce) => v2(built, {}, nonce), cached: peer({ appId: 50 }) },
  'not active': { headers: (built, nonce) => v2(built, {}, nonce), cached: peer({ status: 1 }) },
}

type Outcome = { peer: Wallet; version: 1 | 2; nonce: string; requestDigest: string | undefined; payload: unknown } | { code: string; message: string }

function refusal(error: unknown): Outcome {
  if (error instanceof KmsError) return error.toBody()
  throw error
}

/** What a request gets, through to the payload check (steps 6–7), as `/sync` would run them. */
async function outcome(run: () => ReturnType<typeof authenticatePeer> | Promise<ReturnType<typeof authenticatePeer>>): Promise<Outcome> {
  try {
    const authenticated = await run()
    const payload = await authenticated.verifyPayload(ENVELOPE, { type: 'delta', sender_wallet: PEER_WALLET }).then(() => 'accepted', refusal)
    return { peer: authenticated.peer.wallet, version: authenticated.version, nonce: authenticated.nonce, requestDigest: authenticated.requestDigest, payload }
  } catch (error) {
    return refusal(error)
  }
}

describe('authenticatePeerAsync (PROTOCOL §4.2 steps 2–3, recovery handed to a SignatureWork)', () => {
  it('behavior: every request gets what authenticatePeer gives it, replays included', async () => {
    const seen = new Set<string>()
    for (const [name, testCase] of Object.entries(CASES)) {
      const cached = 'cached' in testCase ? testCase.cached : peer()
      const sync = await receiver(cached, testCase.minSyncVersion)
      const async = await receiver(cached, testCase.minSyncVersion)
      const nonce = sync.nonces.issue()
      expect(async.nonces.issue()).toBe(nonce)
      const headers = await testCase.headers(sync, nonce)
      // Twice each: the second run is a replay wherever the first one consumed the nonce.
      for (const attempt of [1, 2]) {
        const expected = await outcome(() => authenticatePeer({ ...sync.params, headers }))
        const actual = await outcome(() => authenticatePeerAsync({ ...async.params, headers, signatures: inlineSignatureWork }))
        expect({ name, attempt, ...actual }).toEqual({ name, attempt, ...expected })
        seen.add('peer' in expected ? `peer v${expected.version}` : expected.message)
      }
    }
    // The cases reach every outcome they name, so a check that never fires would show here.
    expect([...seen].sort()).toEqual(
      [
        'peer v1',
        'peer v2',
        'Unsupported sync version',
        'Sync binding required',
        'Missing x-kms-signature',
        'Missing x-kms-timestamp',
        'Invalid x-kms-timestamp',
        'Missing x-kms-nonce',
        'Missing x-app-content-sha256',
        'Stale timestamp',
        'Invalid or expired nonce',
        'Invalid signature',
        'Missing x-kms-wallet',
        'Request binding mismatch',
        `Peer ${PEER_WALLET} not found in PeerCache`,
        'Peer not zk-verified',
        'Peer app_id mismatch',
        'Peer instance not ACTIVE',
      ].sort(),
    )
  })

  it('behavior: the signer is the one the work recovered, and the work is asked once per request', async () => {
    const built = await receiver(peer())
    const asked: string[] = []
    const elsewhere: SignatureWork = {
      ...inlineSignatureWork,
      async recoverMessageSigner(message) {
        asked.push(message)
        return OTHER_WALLET
      },
    }
    const headers = await v1(built)
    expect(await outcome(() => authenticatePeerAsync({ ...built.params, headers, signatures: elsewhere }))).toEqual({
      code: 'forbidden',
      message: `Peer ${OTHER_WALLET} not found in PeerCache`,
    })
    expect(asked).toEqual([`NovaKMS:Auth:${headers.nonce}:${OWN_WALLET}:${NOW_S}`])
  })

  it('error: a work that cannot recover fails the request with its 503, and the nonce is already spent', async () => {
    const built = await receiver(peer())
    const down: SignatureWork = {
      ...inlineSignatureWork,
      async recoverMessageSigner() {
        throw new KmsError('service_unavailable', 'signature worker exited')
      },
    }
    const headers = await v2(built)
    expect(await outcome(() => authenticatePeerAsync({ ...built.params, headers, signatures: down }))).toEqual({
      code: 'service_unavailable',
      message: 'signature worker exited',
    })
    expect(await outcome(() => authenticatePeerAsync({ ...built.params, headers, signatures: inlineSignatureWork }))).toEqual({
      code: 'unauthorized',
      message: 'Invalid or expired nonce',
    })
  })
})
