import { describe, expect, it } from 'vitest'
import { NonceStore } from '../../../core/auth'
import { parseBase64 } from '../../../core/encoding'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'

function makeStore(clock = new FakeClock(1_767_225_600_000), capacity = 4096): NonceStore {
  return new NonceStore({ clock, random: seededRandom(7), ttlSeconds: 120, capacity })
}

describe('nonce store (PROTOCOL §3.1.3)', () => {
  it('behavior: nonces are 24 base64 characters of 16 bytes, and differ', () => {
    const store = makeStore()
    const first = store.issue()
    const second = store.issue()
    expect(first).toHaveLength(24)
    expect(parseBase64(first)).toHaveLength(16)
    expect(first).not.toBe(second)
  })
  it('behavior: a nonce is consumed at most once', () => {
    const store = makeStore()
    const nonce = store.issue()
    expect(store.consume(nonce)).toBe(true)
    expect(store.consume(nonce)).toBe(false)
  })
  it('error: an unissued nonce is refused', () => {
    expect(makeStore().consume('AAAAAAAAAAAAAAAAAAAAAA==')).toBe(false)
  })
  it('behavior: valid while now_s ≤ expiry; refused at 121 s (conformance 31)', () => {
    const clock = new FakeClock(1_767_225_600_000)
    const store = makeStore(clock)
    const fresh = store.issue()
    const stale = store.issue()
    clock.advanceSeconds(120)
    expect(store.consume(fresh)).toBe(true)
    clock.advanceSeconds(1)
    expect(store.consume(stale)).toBe(false)
    expect(store.size).toBe(0)
  })
  it('behavior: capacity 4096; the 4097th issue evicts the oldest (conformance 30)', () => {
    const store = makeStore()
    const first = store.issue()
    const second = store.issue()
    for (let index = 2; index < 4096; index++) store.issue()
    expect(store.size).toBe(4096)
    store.issue()
    expect(store.size).toBe(4096)
    expect(store.consume(first)).toBe(false)
    expect(store.consume(second)).toBe(true)
  })
})
