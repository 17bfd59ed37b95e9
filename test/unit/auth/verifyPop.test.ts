import { describe, expect, it } from 'vitest'
import { NonceStore, verifyPop, type PopHeaders } from '../../../core/auth'
import { signMessageWithKey } from '../../../core/crypto'
import { parseHex, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

// PROTOCOL §5.7 keys.
const APP_KEY = parseHex('ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80')!
const APP_WALLET = '0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266'
const NODE_WALLET: Wallet = '0x70997970c51812dc3a010c7d01b50e0d17dc79c8'
const NOW_S = 1_767_225_600

function setup() {
  const clock = new FakeClock(NOW_S * 1000)
  const nonces = new NonceStore({ clock, random: seededRandom(3), ttlSeconds: 120, capacity: 16 })
  const sign = (nonce: string, ts: number | string, recipient: string = NODE_WALLET): PopHeaders => ({
    signature: signMessageWithKey(APP_KEY, `NovaKMS:AppAuth:${nonce}:${recipient}:${ts}`),
    nonce,
    timestamp: String(ts),
    wallet: null,
  })
  const verify = (headers: PopHeaders): Wallet =>
    verifyPop({ purpose: 'AppAuth', headers, ownWallet: NODE_WALLET, nonces, clock, popTimeoutSeconds: 120 })
  return { clock, nonces, sign, verify }
}

function failure(run: () => unknown): { code: string; message: string } {
  try {
    run()
  } catch (error) {
    if (error instanceof KmsError) return error.toBody()
    throw error
  }
  throw new Error('expected a KmsError')
}

describe('PoP verification (PROTOCOL §3.1.2)', () => {
  it('vector: the §5.7 signature verifies, with v = 1b and with v = 00 (conformance 32)', () => {
    const clock = new FakeClock(NOW_S * 1000)
    // A Random that yields 00 01 … 0f issues exactly the §5.7 nonce.
    const vectorRandom = { bytes: (length: number) => Uint8Array.from({ length }, (_, index) => index) }
    const signature = '0x564ac926e45cf14833d12fe2422e1b17790147e6cd031cb4893da397fb418830512db815489b50dc98b3ada078bd6c830b8f0222899e2cde2f697db56c6d4ce71b'
    for (const variant of [signature, signature.slice(0, -2) + '00']) {
      const nonces = new NonceStore({ clock, random: vectorRandom, ttlSeconds: 120, capacity: 16 })
      const nonce = nonces.issue()
      expect(nonce).toBe('AAECAwQFBgcICQoLDA0ODw==')
      const headers = { signature: variant, nonce, timestamp: String(NOW_S), wallet: null }
      expect(verifyPop({ purpose: 'AppAuth', headers, ownWallet: NODE_WALLET, nonces, clock, popTimeoutSeconds: 120 })).toBe(APP_WALLET)
    }
  })
  it('behavior: the same request verifies with v 0/1 (runtime apps) and with v 27/28 (app tools) (§3.1.2 step 5)', () => {
    // Two setups with the same seed issue the same nonce, so both variants sign one message.
    const first = setup()
    const second = setup()
    const made = first.sign(first.nonces.issue(), NOW_S)
    expect(second.nonces.issue()).toBe(made.nonce)
    const v = Number.parseInt(made.signature.slice(-2), 16)
    expect([0, 1]).toContain(v)
    expect(first.verify(made)).toBe(APP_WALLET)
    expect(second.verify({ ...made, signature: made.signature.slice(0, -2) + (27 + v).toString(16) })).toBe(APP_WALLET)
  })
  it('behavior: a valid request succeeds and a replay is refused (conformance 21)', () => {
    const { nonces, sign, verify } = setup()
    const headers = sign(nonces.issue(), NOW_S)
    expect(verify(headers)).toBe(APP_WALLET)
    expect(failure(() => verify(headers))).toEqual({ code: 'unauthorized', message: 'Invalid or expired nonce' })
  })
  it('error: a stale timestamp is refused before the nonce is touched (conformance 22)', () => {
    const { nonces, sign, verify } = setup()
    const nonce = nonces.issue()
    expect(failure(() => verify(sign(nonce, NOW_S - 121)))).toEqual({ code: 'unauthorized', message: 'Stale timestamp' })
    expect(failure(() => verify(sign(nonce, NOW_S + 121)))).toEqual({ code: 'unauthorized', message: 'Stale timestamp' })
    expect(verify(sign(nonce, NOW_S - 120))).toBe(APP_WALLET)
  })
  it('error: bad timestamps (conformance 23)', () => {
    const { nonces, sign, verify } = setup()
    for (const ts of ['abc', '', '-1', '1.5', '123456789012345678901', '18446744073709551616']) {
      expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), timestamp: ts }))).toEqual({ code: 'unauthorized', message: 'Invalid x-app-timestamp' })
    }
  })
  it('behavior: leading zeros in the timestamp header are signed as the parsed value', () => {
    const { nonces, sign, verify } = setup()
    const nonce = nonces.issue()
    expect(verify({ ...sign(nonce, NOW_S), timestamp: `000${NOW_S}` })).toBe(APP_WALLET)
  })
  it('error: nonce encoding and unissued nonces (conformance 24)', () => {
    const { sign, verify } = setup()
    expect(failure(() => verify(sign('not base64!', NOW_S)))).toEqual({ code: 'unauthorized', message: 'Invalid nonce encoding' })
    expect(failure(() => verify(sign('AAECAwQFBgcICQoLDA0ODw==', NOW_S)))).toEqual({ code: 'unauthorized', message: 'Invalid or expired nonce' })
  })
  it('error: a signature for another recipient recovers another wallet (conformance 25)', () => {
    const { nonces, sign, verify } = setup()
    const other = '0x0000000000000000000000000000000000000001'
    expect(verify(sign(nonces.issue(), NOW_S, other))).not.toBe(APP_WALLET)
  })
  it('error: malformed signatures (conformance 26)', () => {
    const { nonces, sign, verify } = setup()
    const good = sign(nonces.issue(), NOW_S)
    expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), signature: good.signature.slice(0, -2) + '1d' }))).toEqual({ code: 'unauthorized', message: 'Invalid signature format' })
    expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), signature: good.signature.slice(0, -4) }))).toEqual({ code: 'unauthorized', message: 'Invalid signature format' })
    expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), signature: '0x' + '00'.repeat(64) + '1b' }))).toEqual({ code: 'unauthorized', message: 'Invalid signature' })
    // v = 0/1 mean 27/28 (signMessageWithKey makes 0/1, as the runtime); the other parity
    // recovers some other key, in either form.
    const headers = sign(nonces.issue(), NOW_S)
    const parity = Number.parseInt(headers.signature.slice(-2), 16)
    expect([0, 1]).toContain(parity)
    expect(verify({ ...headers, signature: headers.signature.slice(0, -2) + (parity === 0 ? '1b' : '1c') })).toBe(APP_WALLET)
    for (const form of [0, 27]) {
      const flipped = sign(nonces.issue(), NOW_S)
      const otherParity = 1 - Number.parseInt(flipped.signature.slice(-2), 16)
      const signature = flipped.signature.slice(0, -2) + (form + otherParity).toString(16).padStart(2, '0')
      expect(verify({ ...flipped, signature })).not.toBe(APP_WALLET)
    }
  })
  it('error: X-App-Wallet must canonicalise and match (conformance 27)', () => {
    const { nonces, sign, verify } = setup()
    expect(verify({ ...sign(nonces.issue(), NOW_S), wallet: APP_WALLET.toUpperCase().replace('0X', '0x') })).toBe(APP_WALLET)
    expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), wallet: 'nope' }))).toEqual({ code: 'unauthorized', message: 'Invalid wallet address' })
    expect(failure(() => verify({ ...sign(nonces.issue(), NOW_S), wallet: NODE_WALLET }))).toEqual({ code: 'unauthorized', message: 'App wallet header does not match signature' })
  })
})
