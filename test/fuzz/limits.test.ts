/**
 * The limits the fuzz suite turns off still hold (issue 12: "keep separate tests that the
 * limits hold"), on the same in-process nodes (PROTOCOL §12.2):
 *
 * - the per-app limiter answers 429 after `APP_RATE_LIMIT_PER_MINUTE` tokens, keyed by the
 *   authenticated wallet, and a sign_cert costs `SIGN_CERT_RATE_WEIGHT` tokens;
 * - the node-wide nonce bucket (`NODE_NONCE_RATE_LIMIT_PER_MINUTE`) answers 429 on /nonce
 *   even for loopback callers, whom the per-client limiters do not count.
 *
 * The node and the clients share one held-still clock, so that no token refills between two
 * requests unless the test moves the clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClientError } from '../../core/client'
import { bytesToBase64 } from '../../core/encoding'
import { FakeClock } from '../helpers/fakeClock'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerTestApp } from '../helpers/kmsNodes'
import { pem, REAL_CSRS } from './_arbitraries'
import { fuzzClient, startInProcessNode, type FuzzClient } from './_harness'

let chain: DevChain

beforeAll(async () => {
  chain = await startDevChain()
})

afterAll(async () => {
  await chain?.stop()
})

/** The status, code and `Retry-After`-bearing message of a refused call (fails if it succeeds). */
async function refusalOf(run: () => Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (!(error instanceof KmsClientError)) throw error
    return { status: error.status, code: error.code, message: error.message }
  }
  throw new Error('expected a refusal')
}

const RATE_LIMITED = { status: 429, code: 'rate_limited', message: 'Rate limit exceeded' }
const VALID_CSR = pem('CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[0]!))

describe('per-app limiter (APP_RATE_LIMIT_PER_MINUTE, SIGN_CERT_RATE_WEIGHT)', () => {
  it('behavior: 5 tokens a minute: the 6th derive is 429 rate_limited (bound), another app is unaffected, a refill lets one more through', async () => {
    const clock = new FakeClock(Date.now())
    const target = await startInProcessNode(chain, { env: { APP_RATE_LIMIT_PER_MINUTE: '5' }, clock, instanceUrl: 'http://kms-limits-1.test' })
    const [first, second] = [await registerTestApp(chain), await registerTestApp(chain)]
    const client: FuzzClient = fuzzClient(target, first, clock)
    for (let index = 0; index < 5; index++) await client.derive({ path: `p${index}` })
    expect(await refusalOf(() => client.derive({ path: 'p5' }))).toEqual(RATE_LIMITED)
    // The limiter is keyed by the authenticated wallet: another app still has its tokens.
    await fuzzClient(target, second, clock).derive({ path: 'other app' })
    // 5 a minute is one token per 12 s: 11 s is not enough, 13 s is.
    clock.advanceSeconds(11)
    expect(await refusalOf(() => client.derive({ path: 'p6' }))).toEqual(RATE_LIMITED)
    clock.advanceSeconds(2)
    await client.derive({ path: 'p7' })
    expect(await refusalOf(() => client.derive({ path: 'p8' }))).toEqual(RATE_LIMITED)
  })

  it('behavior: 25 tokens a minute, sign_cert weighs 10: two sign_certs, then a third is 429; the 5 tokens left serve 5 derives, then 429', async () => {
    const clock = new FakeClock(Date.now())
    const target = await startInProcessNode(chain, {
      env: { APP_RATE_LIMIT_PER_MINUTE: '25', SIGN_CERT_RATE_WEIGHT: '10' },
      clock,
      instanceUrl: 'http://kms-limits-2.test',
    })
    const client = fuzzClient(target, await registerTestApp(chain), clock)
    await client.signCert(VALID_CSR)
    await client.signCert(VALID_CSR)
    expect(await refusalOf(() => client.signCert(VALID_CSR))).toEqual(RATE_LIMITED)
    for (let index = 0; index < 5; index++) await client.derive({ path: `p${index}` })
    expect(await refusalOf(() => client.derive({ path: 'p5' }))).toEqual(RATE_LIMITED)
    // A sign_cert needs 10 tokens back (24 s at 25 a minute): 23 s is not enough, 25 s is.
    clock.advanceSeconds(23)
    expect(await refusalOf(() => client.signCert(VALID_CSR))).toEqual(RATE_LIMITED)
    clock.advanceSeconds(2)
    await client.signCert(VALID_CSR)
  })

  it('behavior: a refused sign_cert (an invalid CSR) still costs its weight: the limiter runs before the envelope is opened', async () => {
    const clock = new FakeClock(Date.now())
    const target = await startInProcessNode(chain, {
      env: { APP_RATE_LIMIT_PER_MINUTE: '20', SIGN_CERT_RATE_WEIGHT: '10' },
      clock,
      instanceUrl: 'http://kms-limits-3.test',
    })
    const client = fuzzClient(target, await registerTestApp(chain), clock)
    expect((await refusalOf(() => client.signCert('not a csr'))).code).toBe('invalid_csr')
    expect((await refusalOf(() => client.signCert('not a csr either'))).code).toBe('invalid_csr')
    expect(await refusalOf(() => client.signCert(VALID_CSR))).toEqual(RATE_LIMITED)
    expect(await refusalOf(() => client.derive({ path: 'p' }))).toEqual(RATE_LIMITED)
  })
})

describe('node-wide nonce bucket (NODE_NONCE_RATE_LIMIT_PER_MINUTE)', () => {
  it('behavior: a loopback caller, whom the per-client nonce limiter does not count, still gets 429 from the node-wide bucket', async () => {
    const clock = new FakeClock(Date.now())
    const target = await startInProcessNode(chain, {
      // Per client 1 a minute: were loopback counted per client, the 2nd nonce would be 429.
      env: { NONCE_RATE_LIMIT_PER_MINUTE: '1', NODE_NONCE_RATE_LIMIT_PER_MINUTE: '3' },
      clock,
      socketAddress: () => '127.0.0.1',
      instanceUrl: 'http://kms-limits-4.test',
    })
    const nonce = (): Promise<Response> => target.fetch(`${target.url}/nonce`)
    for (let index = 0; index < 3; index++) expect((await nonce()).status).toBe(200)
    const refused = await nonce()
    expect(refused.status).toBe(429)
    expect(await refused.json()).toEqual({ code: 'rate_limited', message: 'Rate limit exceeded' })
    // 3 a minute is one nonce per 20 s.
    expect(refused.headers.get('retry-after')).toBe('20')
    // An authenticated request needs a nonce too, so it fails at the SDK's /nonce step.
    const client = fuzzClient(target, await registerTestApp(chain), clock)
    expect((await refusalOf(() => client.derive({ path: 'p' }))).status).toBe(429)
    clock.advanceSeconds(21)
    expect((await nonce()).status).toBe(200)
    expect((await nonce()).status).toBe(429)
  })

  it('behavior: /attestation draws on the same node-wide bucket', async () => {
    const clock = new FakeClock(Date.now())
    const target = await startInProcessNode(chain, {
      env: { NODE_NONCE_RATE_LIMIT_PER_MINUTE: '2' },
      clock,
      socketAddress: () => '::1',
      instanceUrl: 'http://kms-limits-5.test',
    })
    const challenge = encodeURIComponent(bytesToBase64(new Uint8Array(32).fill(5)))
    expect((await target.fetch(`${target.url}/nonce`)).status).toBe(200)
    expect((await target.fetch(`${target.url}/attestation?nonce=${challenge}`)).status).toBe(200)
    expect((await target.fetch(`${target.url}/nonce`)).status).toBe(429)
    expect((await target.fetch(`${target.url}/attestation?nonce=${challenge}`)).status).toBe(429)
  })
})
