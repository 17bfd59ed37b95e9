/**
 * verifyPopAsync is verifyPop with the recovery handed to a `SignatureWork` (the Node worker
 * pool): every input must give the same signer or the same error as verifyPop, in the same
 * order, and the nonce must be spent before the recovery is asked for.
 */
import { describe, expect, it } from 'vitest'
import { NonceStore, verifyPop, verifyPopAsync, type PopHeaders, type VerifyPopParams } from '../../../core/auth'
import { buildAppAuthMessageV2, inlineSignatureWork, signMessageWithKey, type SignatureWork } from '../../../core/crypto'
import { parseHex, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

const APP_KEY = parseHex('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')!
const APP_WALLET = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const NODE_WALLET: Wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const NOW_S = 1_767_225_600
const DIGEST = 'ab'.repeat(32)

type Outcome = { signer: Wallet } | { code: string; message: string }

function outcomeOf(error: unknown): Outcome {
  if (error instanceof KmsError) return error.toBody()
  throw error
}

function params(nonces: NonceStore, headers: PopHeaders, requestDigest?: string): VerifyPopParams {
  return {
    purpose: 'AppAuth',
    headers,
    ownWallet: NODE_WALLET,
    nonces,
    clock: new FakeClock(NOW_S * 1000),
    popTimeoutSeconds: 120,
    ...(requestDigest === undefined ? {} : { requestDigest }),
  }
}

/** Two nonce stores with one seed issue the same nonces: one for each implementation. */
function twins(): { sync: NonceStore; async: NonceStore } {
  const clock = new FakeClock(NOW_S * 1000)
  const make = () => new NonceStore({ clock, random: seededRandom(7), ttlSeconds: 120, capacity: 64 })
  return { sync: make(), async: make() }
}

type Case = (nonce: string) => { headers: PopHeaders; requestDigest?: string; issue?: boolean }

const v1 = (nonce: string, ts: number | string = NOW_S): PopHeaders => ({
  signature: signMessageWithKey(APP_KEY, `NovaKMS:AppAuth:${nonce}:${NODE_WALLET}:${ts}`),
  nonce,
  timestamp: String(ts),
  wallet: null,
})
const v2 = (nonce: string, digest = DIGEST): PopHeaders => ({
  signature: signMessageWithKey(APP_KEY, buildAppAuthMessageV2({ nonce, wallet: NODE_WALLET, timestamp: BigInt(NOW_S), requestDigest: digest })),
  nonce,
  timestamp: String(NOW_S),
  wallet: APP_WALLET,
})

const CASES: Record<string, Case> = {
  'valid v1': (nonce) => ({ headers: v1(nonce) }),
  'valid v2': (nonce) => ({ headers: v2(nonce), requestDigest: DIGEST }),
  'stale': (nonce) => ({ headers: v1(nonce, NOW_S - 121) }),
  'bad timestamp': (nonce) => ({ headers: { ...v1(nonce), timestamp: '1.5' } }),
  'nonce encoding': () => ({ headers: v1('not base64!'), issue: false }),
  'unissued nonce': () => ({ headers: v1('AAECAwQFBgcICQoLDA0ODw=='), issue: false }),
  'v out of range': (nonce) => ({ headers: { ...v1(nonce), signature: v1(nonce).signature.slice(0, -2) + '1d' } }),
  'short signature': (nonce) => ({ headers: { ...v1(nonce), signature: v1(nonce).signature.slice(0, -4) } }),
  'r = 0': (nonce) => ({ headers: { ...v1(nonce), signature: '0x' + '00'.repeat(64) + '1b' } }),
  'bad wallet header': (nonce) => ({ headers: { ...v1(nonce), wallet: 'nope' } }),
  'other wallet header': (nonce) => ({ headers: { ...v1(nonce), wallet: NODE_WALLET } }),
  'v2 without wallet': (nonce) => ({ headers: { ...v2(nonce), wallet: null }, requestDigest: DIGEST }),
  'v2 other digest': (nonce) => ({ headers: v2(nonce, 'cd'.repeat(32)), requestDigest: DIGEST }),
  'v2 bad wallet header': (nonce) => ({ headers: { ...v2(nonce), wallet: '0x12' }, requestDigest: DIGEST }),
}

describe('verifyPopAsync (PROTOCOL §3.1.2, recovery handed to a SignatureWork)', () => {
  it('behavior: every case gives what verifyPop gives, replays included', async () => {
    const seen = new Set<string>()
    for (const [name, make] of Object.entries(CASES)) {
      const { sync, async } = twins()
      const nonce = sync.issue()
      expect(async.issue()).toBe(nonce)
      const { headers, requestDigest } = make(nonce)
      // Twice each: the second run is a replay wherever the first one consumed the nonce.
      for (const attempt of [1, 2]) {
        let expected: Outcome
        try {
          expected = { signer: verifyPop(params(sync, headers, requestDigest)) }
        } catch (error) {
          expected = outcomeOf(error)
        }
        const actual = await verifyPopAsync({ ...params(async, headers, requestDigest), signatures: inlineSignatureWork }).then(
          (signer): Outcome => ({ signer }),
          outcomeOf,
        )
        expect({ name, attempt, ...actual }).toEqual({ name, attempt, ...expected })
        seen.add('signer' in expected ? 'signer' : expected.message)
      }
    }
    // The cases reach every outcome they name, so a check that never fires would show here.
    expect([...seen].sort()).toEqual(
      [
        'signer',
        'Stale timestamp',
        'Invalid x-app-timestamp',
        'Invalid nonce encoding',
        'Invalid or expired nonce',
        'Invalid signature format',
        'Invalid signature',
        'Invalid wallet address',
        'App wallet header does not match signature',
        'Missing x-app-wallet',
        'Request binding mismatch',
      ].sort(),
    )
  })

  it('behavior: the nonce is spent before the recovery is asked for, and a failed recovery fails the request', async () => {
    const { async: nonces } = twins()
    const asked: string[] = []
    const unavailable: SignatureWork = {
      recoverMessageSigner: async (message) => {
        asked.push(message)
        // What the pool answers when its worker died with the job (bundle/node.ts).
        throw new KmsError('service_unavailable', 'Signature worker unavailable')
      },
      signMessage: inlineSignatureWork.signMessage,
    }
    const nonce = nonces.issue()
    const headers = v1(nonce)
    await expect(verifyPopAsync({ ...params(nonces, headers), signatures: unavailable })).rejects.toMatchObject({ status: 503 })
    expect(asked).toEqual([`NovaKMS:AppAuth:${nonce}:${NODE_WALLET}:${NOW_S}`])
    // Spent: the same request again is refused before any recovery.
    await expect(verifyPopAsync({ ...params(nonces, headers), signatures: unavailable })).rejects.toMatchObject({ message: 'Invalid or expired nonce' })
    // A stale request neither spends its nonce nor asks for a recovery.
    const fresh = nonces.issue()
    await expect(verifyPopAsync({ ...params(nonces, v1(fresh, NOW_S - 121)), signatures: unavailable })).rejects.toMatchObject({ message: 'Stale timestamp' })
    expect(asked).toHaveLength(1)
    expect(await verifyPopAsync({ ...params(nonces, v1(fresh)), signatures: inlineSignatureWork })).toBe(APP_WALLET)
  })
})
