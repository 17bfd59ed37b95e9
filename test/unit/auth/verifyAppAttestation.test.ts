/**
 * Attestation authentication, PROTOCOL §3.2.2 steps 1–3, with dev attestation documents
 * signed by the dev root (§10.3): the verifier's refusals (stale, future, foreign root, debug
 * mode, tampering) come before the nonce is touched; then the nonce is single-use; then the
 * wallet comes from `user_data.eth_addr`.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { describe, expect, it } from 'vitest'
import { awsNitroRootG1Der } from '../../../core/attestation'
import { NonceStore, verifyAppAttestation, type VerifyAppAttestationParams } from '../../../core/auth'
import { bytesToBase64, concatBytes, parseBase64 } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { devRootCertificateDer } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { APP_MEASUREMENT, APP_PCRS, APP_WALLET, attestationHeader, NOW_S } from './_appAuth'

function setup(options: { ttlSeconds?: number } = {}) {
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(17), ttlSeconds: options.ttlSeconds ?? 120, capacity: 64 })
  const verify = (header: string, overrides: Partial<VerifyAppAttestationParams> = {}) =>
    verifyAppAttestation({
      header,
      popNonce: undefined,
      nonces,
      clock,
      maxAgeSeconds: 300,
      allowDebugMode: false,
      trustedRoot: devRootCertificateDer(),
      ...overrides,
    })
  return { clock, nonces, verify }
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

const rejected = (reason: string) => ({ code: 'unauthorized', message: `Attestation rejected: ${reason}` })

describe('verifyAppAttestation (PROTOCOL §3.2.2 steps 1–3)', () => {
  it('behavior: a fresh dev document with an issued nonce names its wallet and measurement, and spends the nonce', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs() })
    const attested = await verify(header)
    expect(attested.wallet).toBe(APP_WALLET)
    expect(attested.codeMeasurement).toEqual(APP_MEASUREMENT)
    expect(attested.codeMeasurement).toEqual(keccak_256(concatBytes(APP_PCRS.get(0)!, APP_PCRS.get(1)!, APP_PCRS.get(2)!)))
    expect(attested.document).toEqual(parseBase64(header))
    expect(nonces.consume(nonce)).toBe(false)
  })

  it('error: a replayed document is refused: its nonce was spent', async () => {
    const { clock, nonces, verify } = setup()
    const header = await attestationHeader({ nonce: nonces.issue(), nowMs: clock.nowMs() })
    await verify(header)
    expect(await failure(() => verify(header))).toEqual(rejected('invalid or expired nonce'))
  })

  it('error: a nonce this node never issued, or one that expired, is refused', async () => {
    const { clock, nonces, verify } = setup()
    expect(await failure(async () => verify(await attestationHeader({ nonce: 'AAECAwQFBgcICQoLDA0ODw==', nowMs: clock.nowMs() })))).toEqual(rejected('invalid or expired nonce'))
    const nonce = nonces.issue()
    clock.advanceSeconds(121)
    expect(await failure(async () => verify(await attestationHeader({ nonce, nowMs: clock.nowMs() })))).toEqual(rejected('invalid or expired nonce'))
  })

  it('error: a nonce field that is not 16 bytes is refused without touching the store', async () => {
    const { clock, nonces, verify } = setup()
    const issued = nonces.issue()
    const long = concatBytes(parseBase64(issued)!, new Uint8Array(4))
    expect(await failure(async () => verify(await attestationHeader({ nonce: long, nowMs: clock.nowMs() })))).toEqual(rejected('invalid or expired nonce'))
    expect(nonces.consume(issued)).toBe(true)
  })

  it('error: a stale document is refused before its nonce is touched', async () => {
    const { clock, nonces, verify } = setup({ ttlSeconds: 1000 })
    const nonce = nonces.issue()
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs() })
    clock.advanceSeconds(301)
    expect(await failure(() => verify(header))).toEqual(rejected('ATTESTATION_TOO_OLD'))
    expect(nonces.consume(nonce)).toBe(true)
  })

  it('behavior: a document exactly ATTESTATION_MAX_AGE_SECONDS old is still accepted', async () => {
    const { clock, nonces, verify } = setup({ ttlSeconds: 1000 })
    const header = await attestationHeader({ nonce: nonces.issue(), nowMs: clock.nowMs() })
    clock.advanceSeconds(300)
    expect((await verify(header)).wallet).toBe(APP_WALLET)
  })

  it('error: a document more than 15 s in the future is refused, before its nonce is touched', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs() + 16_000 })
    expect(await failure(() => verify(header))).toEqual(rejected('ATTESTATION_TIMESTAMP_IN_FUTURE'))
    expect(nonces.consume(nonce)).toBe(true)
    const near = await attestationHeader({ nonce: nonces.issue(), nowMs: clock.nowMs() + 15_000 })
    expect((await verify(near)).wallet).toBe(APP_WALLET)
  })

  it('error: a document under a root the node does not trust is refused (AWS pin, or another root)', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs() })
    expect(await failure(() => verify(header, { trustedRoot: undefined }))).toEqual(rejected('ATTESTATION_ROOT_UNTRUSTED'))
    expect(await failure(() => verify(header, { trustedRoot: awsNitroRootG1Der() }))).toEqual(rejected('ATTESTATION_ROOT_UNTRUSTED'))
    expect(nonces.consume(nonce)).toBe(true)
  })

  it('error: a debug-mode document (PCR0..2 zero) is refused unless dev mode allows it', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs(), pcrs: new Map() })
    expect(await failure(() => verify(header))).toEqual(rejected('ATTESTATION_DEBUG_MODE'))
    const attested = await verify(header, { allowDebugMode: true })
    expect(attested.codeMeasurement).toEqual(keccak_256(new Uint8Array(144)))
  })

  it('error: a tampered document, bad base64 or an empty header is refused', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    const document = parseBase64(await attestationHeader({ nonce, nowMs: clock.nowMs() }))!
    document[document.length - 1]! ^= 0x01
    expect(await failure(() => verify(bytesToBase64(document)))).toEqual(rejected('ATTESTATION_SIGNATURE_INVALID'))
    expect(await failure(() => verify('not base64 at all!'))).toEqual(rejected('ATTESTATION_INPUT_ENCODING'))
    expect(await failure(() => verify(''))).toEqual(rejected('ATTESTATION_INPUT_ENCODING'))
    expect(nonces.consume(nonce)).toBe(true)
  })

  it('behavior: the nonce PoP already consumed satisfies step 2; another PoP nonce does not', async () => {
    const { clock, nonces, verify } = setup()
    const nonce = nonces.issue()
    expect(nonces.consume(nonce)).toBe(true) // as verifyPop does first
    const header = await attestationHeader({ nonce, nowMs: clock.nowMs() })
    expect((await verify(header, { popNonce: nonce })).wallet).toBe(APP_WALLET)
    const other = nonces.issue()
    expect(await failure(() => verify(header, { popNonce: other }))).toEqual(rejected('invalid or expired nonce'))
    expect(nonces.consume(other)).toBe(true)
  })

  it('behavior: a document whose nonce differs from the PoP nonce spends its own', async () => {
    const { clock, nonces, verify } = setup()
    const own = nonces.issue()
    const header = await attestationHeader({ nonce: own, nowMs: clock.nowMs() })
    expect((await verify(header, { popNonce: nonces.issue() })).wallet).toBe(APP_WALLET)
    expect(nonces.consume(own)).toBe(false)
  })

  it('error: user_data whose eth_addr is not a wallet is missing eth_addr', async () => {
    const { clock, nonces, verify } = setup()
    for (const wallet of ['not-a-wallet', '0x1234', '']) {
      const header = await attestationHeader({ nonce: nonces.issue(), nowMs: clock.nowMs(), wallet })
      expect(await failure(() => verify(header))).toEqual(rejected('missing eth_addr'))
    }
  })

  it('behavior: a checksummed eth_addr is returned canonical', async () => {
    const { clock, nonces, verify } = setup()
    const header = await attestationHeader({ nonce: nonces.issue(), nowMs: clock.nowMs(), wallet: '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266' })
    expect((await verify(header)).wallet).toBe(APP_WALLET)
  })
})
