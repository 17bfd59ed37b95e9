/**
 * App authentication (PROTOCOL §3): PoP only, attestation only, or both (PoP first, the
 * wallets must match), partial headers refused, then registry authorization once and, with
 * attestation, the measurement check. The response counter-signature subject (§3.4) follows
 * the method. Real NonceStore, real attestation verification under the dev root, and an
 * in-memory registry.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, it } from 'vitest'
import { authenticateApp, NonceStore, verifyAppAttestation, type AppAuthHeaders } from '../../../core/auth'
import { bytesToHex, parseBase64 } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { devRootCertificateDer } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import {
  APP_ID,
  APP_WALLET,
  appTeePubkeyDer,
  attestationHeader,
  instanceRecord,
  MemoryRegistry,
  NODE_WALLET,
  NOW_S,
  OTHER_WALLET,
  popHeaders,
  VERSION_ID,
  versionRecord,
} from './_appAuth'

const NONE: AppAuthHeaders = { signature: null, nonce: null, timestamp: null, wallet: null, attestation: null }

async function setup() {
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(23), ttlSeconds: 120, capacity: 64 })
  const registry = await MemoryRegistry.standard()
  let attestationChecks = 0
  const authenticate = (headers: Partial<AppAuthHeaders>) => {
    // v1 requests (no request digest) from an app that is not the KMS app; built apart from
    // the call so that the suite also compiles where these v2 fields are not declared yet.
    const v1 = { requestDigest: undefined, minAppAuthVersion: 1 as const, kmsAppId: 49 }
    const params = {
      ...v1,
      headers: { ...NONE, ...headers },
      ownWallet: NODE_WALLET,
      nonces,
      clock,
      popTimeoutSeconds: 120,
      registry,
      verifyAttestation: (header: string, popNonce: string | undefined) => {
        attestationChecks++
        return verifyAppAttestation({ header, popNonce, nonces, clock, maxAgeSeconds: 300, allowDebugMode: false, trustedRoot: devRootCertificateDer() })
      },
    }
    return authenticateApp(params)
  }
  const attest = (nonce: string, options: { wallet?: string; pcrs?: ReadonlyMap<number, Uint8Array> } = {}) =>
    attestationHeader({ nonce, nowMs: clock.nowMs(), ...options })
  return { clock, nonces, registry, authenticate, attest, attestationChecks: () => attestationChecks }
}

async function failure(run: () => Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

const unauthorized = (message: string) => ({ code: 'unauthorized', message })
const MISSING = unauthorized('Missing PoP authentication headers')

describe('authenticateApp (PROTOCOL §3)', () => {
  it('behavior: PoP only authorizes the signer; the subject is X-App-Signature verbatim', async () => {
    const { nonces, registry, authenticate, attestationChecks } = await setup()
    const pop = popHeaders(nonces.issue())
    // Verbatim: without the optional 0x, as sent.
    const signature = pop.signature.slice(2)
    const result = await authenticate({ ...pop, signature })
    expect(result.identity.wallet).toBe(APP_WALLET)
    expect(result.identity.appId).toBe(APP_ID)
    expect(result.identity.versionId).toBe(VERSION_ID)
    expect(result.identity.teePubkeyDer).toEqual(await appTeePubkeyDer())
    expect(result.responseSignatureSubject).toBe(signature)
    expect(attestationChecks()).toBe(0)
    expect(registry.reads.filter((read) => read.startsWith('instance'))).toEqual([`instance ${APP_WALLET}`])
  })

  it('behavior: PoP only does not compare measurements (the version\'s may be anything)', async () => {
    const { nonces, registry, authenticate } = await setup()
    registry.versions.set(`${APP_ID}/${VERSION_ID}`, versionRecord({ codeMeasurement: new Uint8Array(32).fill(9) }))
    expect((await authenticate(popHeaders(nonces.issue()))).identity.wallet).toBe(APP_WALLET)
  })

  it('behavior: attestation only authorizes the attested wallet; the subject is the SHA-256 of the document', async () => {
    const { nonces, authenticate, attest } = await setup()
    const nonce = nonces.issue()
    const attestation = await attest(nonce)
    const result = await authenticate({ attestation })
    expect(result.identity.wallet).toBe(APP_WALLET)
    expect(result.responseSignatureSubject).toBe(bytesToHex(sha256(parseBase64(attestation)!)))
    expect(nonces.consume(nonce)).toBe(false)
  })

  it('error: attestation only with a replayed document is refused', async () => {
    const { nonces, authenticate, attest } = await setup()
    const attestation = await attest(nonces.issue())
    await authenticate({ attestation })
    expect(await failure(() => authenticate({ attestation }))).toEqual(unauthorized('Attestation rejected: invalid or expired nonce'))
  })

  it('behavior: both methods on one nonce pass; the subject is the PoP signature', async () => {
    const { nonces, authenticate, attest, attestationChecks } = await setup()
    const nonce = nonces.issue()
    const pop = popHeaders(nonce)
    const result = await authenticate({ ...pop, attestation: await attest(nonce) })
    expect(result.identity.wallet).toBe(APP_WALLET)
    expect(result.responseSignatureSubject).toBe(pop.signature)
    expect(attestationChecks()).toBe(1)
  })

  it('behavior: both methods on two nonces spend both', async () => {
    const { nonces, authenticate, attest } = await setup()
    const popNonce = nonces.issue()
    const documentNonce = nonces.issue()
    await authenticate({ ...popHeaders(popNonce), attestation: await attest(documentNonce) })
    expect(nonces.consume(popNonce)).toBe(false)
    expect(nonces.consume(documentNonce)).toBe(false)
  })

  it('error: both methods naming two wallets are refused, before the registry is read', async () => {
    const { nonces, registry, authenticate, attest } = await setup()
    const nonce = nonces.issue()
    const refused = await failure(async () => authenticate({ ...popHeaders(nonce), attestation: await attest(nonce, { wallet: OTHER_WALLET }) }))
    expect(refused).toEqual(unauthorized('Attestation wallet does not match PoP signer'))
    expect(registry.reads).toEqual([])
  })

  it('error: PoP is checked first: a bad PoP is refused with the PoP message even with a good document', async () => {
    const { nonces, authenticate, attest, attestationChecks } = await setup()
    const nonce = nonces.issue()
    const attestation = await attest(nonce)
    expect(await failure(() => authenticate({ ...popHeaders(nonce, NOW_S - 500), attestation }))).toEqual(unauthorized('Stale timestamp'))
    expect(attestationChecks()).toBe(0)
  })

  it('error: none of the headers, or only some of the three PoP headers, is Missing PoP authentication headers', async () => {
    const { nonces, registry, authenticate, attest, attestationChecks } = await setup()
    expect(await failure(() => authenticate({}))).toEqual(MISSING)
    expect(await failure(() => authenticate({ wallet: APP_WALLET }))).toEqual(MISSING)
    const nonce = nonces.issue()
    const pop = popHeaders(nonce)
    const attestation = await attest(nonces.issue())
    const partials: Partial<AppAuthHeaders>[] = [
      { signature: pop.signature },
      { nonce: pop.nonce },
      { timestamp: pop.timestamp },
      { signature: pop.signature, nonce: pop.nonce },
      { signature: pop.signature, timestamp: pop.timestamp },
      { nonce: pop.nonce, timestamp: pop.timestamp },
    ]
    for (const partial of partials) {
      expect(await failure(() => authenticate(partial))).toEqual(MISSING)
      // A document does not make partial PoP headers acceptable.
      expect(await failure(() => authenticate({ ...partial, attestation }))).toEqual(MISSING)
    }
    expect(attestationChecks()).toBe(0)
    expect(registry.reads).toEqual([])
    // Nothing was spent: the PoP nonce still authenticates.
    expect((await authenticate(pop)).identity.wallet).toBe(APP_WALLET)
  })

  it('error: registry refusals keep their §3.3 messages, without the attestation prefix', async () => {
    const { nonces, registry, authenticate, attest } = await setup()
    registry.instances.set(APP_WALLET, instanceRecord(await appTeePubkeyDer(), { zkVerified: false }))
    expect(await failure(() => authenticate(popHeaders(nonces.issue())))).toEqual(unauthorized('Instance not zkVerified'))
    expect(await failure(async () => authenticate({ attestation: await attest(nonces.issue()) }))).toEqual(unauthorized('Instance not zkVerified'))
    registry.instances.delete(APP_WALLET)
    expect(await failure(() => authenticate(popHeaders(nonces.issue())))).toEqual(unauthorized('Instance not found'))
    registry.fail.instance = true
    expect(await failure(() => authenticate(popHeaders(nonces.issue())))).toEqual({ code: 'registry_unavailable', message: 'Registry unavailable' })
  })

  it('error: an attested measurement that is not the version\'s is measurement_mismatch, after authorization', async () => {
    const { nonces, registry, authenticate, attest } = await setup()
    const foreign = new Map([[0, new Uint8Array(48).fill(7)], [1, new Uint8Array(48).fill(2)], [2, new Uint8Array(48).fill(3)]])
    const mismatch = { code: 'measurement_mismatch', message: 'Code measurement does not match registry' }
    expect(await failure(async () => authenticate({ attestation: await attest(nonces.issue(), { pcrs: foreign }) }))).toEqual(mismatch)
    const nonce = nonces.issue()
    expect(await failure(async () => authenticate({ ...popHeaders(nonce), attestation: await attest(nonce, { pcrs: foreign }) }))).toEqual(mismatch)
    // Authorization comes first: an unknown instance is reported as such.
    registry.instances.delete(APP_WALLET)
    expect(await failure(async () => authenticate({ attestation: await attest(nonces.issue(), { pcrs: foreign }) }))).toEqual(unauthorized('Instance not found'))
  })

  it('error: an attestation under an untrusted or debug policy is refused with the verifier\'s reason', async () => {
    const { nonces, authenticate, attest } = await setup()
    expect(await failure(async () => authenticate({ attestation: await attest(nonces.issue(), { pcrs: new Map() }) }))).toEqual(unauthorized('Attestation rejected: ATTESTATION_DEBUG_MODE'))
  })

  it('error: an instance without a usable teePubkey is 400', async () => {
    const { nonces, registry, authenticate } = await setup()
    registry.instances.set(APP_WALLET, instanceRecord(new Uint8Array(0)))
    expect(await failure(() => authenticate(popHeaders(nonces.issue())))).toEqual({ code: 'bad_request', message: 'Receiver teePubkey required for response encryption' })
  })

  it('error: X-App-Wallet naming another wallet is refused by PoP', async () => {
    const { nonces, authenticate } = await setup()
    expect(await failure(() => authenticate({ ...popHeaders(nonces.issue()), wallet: OTHER_WALLET }))).toEqual(unauthorized('App wallet header does not match signature'))
  })
})
