import { describe, expect, it } from 'vitest'
import { RateLimiter, identifiesClient, resolveClientKey } from '../../../core/auth'
import { FakeClock } from '../../helpers/fakeClock'

describe('token-bucket rate limits (PROTOCOL §12.2)', () => {
  it('behavior: capacity is the per-minute rate; the 121st request in a minute is refused', () => {
    const clock = new FakeClock(0)
    const limiter = new RateLimiter({ clock, ratePerMinute: 120, maxBuckets: 10 })
    for (let index = 0; index < 120; index++) expect(limiter.take('1.2.3.4').allowed).toBe(true)
    const refused = limiter.take('1.2.3.4')
    expect(refused).toEqual({ allowed: false, retryAfterSeconds: 1 })
    expect(limiter.take('5.6.7.8').allowed).toBe(true)
  })
  it('behavior: refill is continuous at rate/60 per second', () => {
    const clock = new FakeClock(0)
    const limiter = new RateLimiter({ clock, ratePerMinute: 30, maxBuckets: 10 })
    for (let index = 0; index < 30; index++) limiter.take('k')
    expect(limiter.take('k')).toEqual({ allowed: false, retryAfterSeconds: 2 })
    clock.ms += 1999
    expect(limiter.take('k').allowed).toBe(false)
    clock.ms += 1
    expect(limiter.take('k').allowed).toBe(true)
  })
  it('behavior: a weighted request needs its whole weight, and Retry-After rounds up', () => {
    const clock = new FakeClock(0)
    const limiter = new RateLimiter({ clock, ratePerMinute: 60, maxBuckets: 10 })
    for (let index = 0; index < 55; index++) limiter.take('k')
    expect(limiter.take('k', 10)).toEqual({ allowed: false, retryAfterSeconds: 5 })
    clock.ms += 4500
    expect(limiter.take('k', 10)).toEqual({ allowed: false, retryAfterSeconds: 1 })
  })
  it('behavior: 0 turns the limiter off', () => {
    const limiter = new RateLimiter({ clock: new FakeClock(0), ratePerMinute: 0, maxBuckets: 1 })
    for (let index = 0; index < 1000; index++) expect(limiter.take('k').allowed).toBe(true)
  })
  it('behavior: the bucket table is bounded, dropping the least recently used', () => {
    const clock = new FakeClock(0)
    const limiter = new RateLimiter({ clock, ratePerMinute: 1, maxBuckets: 3 })
    for (const key of ['a', 'b', 'c']) limiter.take(key)
    limiter.take('a')
    limiter.take('d')
    expect(limiter.bucketCount).toBe(3)
    expect(limiter.take('a').allowed).toBe(false) // kept: still empty
    expect(limiter.take('b').allowed).toBe(true) // dropped, so fresh
  })
})

describe('client key (PROTOCOL §12.2, conformance 13)', () => {
  it('behavior: X-Forwarded-For is ignored with 0 hops, and the N-th from the right counts with N', () => {
    expect(resolveClientKey({ socketAddress: '10.0.0.1', forwardedFor: '1.1.1.1, 2.2.2.2', trustedProxyHops: 0 })).toBe('10.0.0.1')
    expect(resolveClientKey({ socketAddress: '10.0.0.1', forwardedFor: '1.1.1.1, 2.2.2.2', trustedProxyHops: 1 })).toBe('2.2.2.2')
    expect(resolveClientKey({ socketAddress: '10.0.0.1', forwardedFor: '1.1.1.1, 2.2.2.2', trustedProxyHops: 2 })).toBe('1.1.1.1')
    expect(resolveClientKey({ socketAddress: '10.0.0.1', forwardedFor: '1.1.1.1', trustedProxyHops: 3 })).toBe('1.1.1.1')
    expect(resolveClientKey({ socketAddress: undefined, forwardedFor: null, trustedProxyHops: 1 })).toBe('unknown')
  })
  it('behavior: loopback and unknown do not identify a client', () => {
    for (const key of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', 'unknown']) expect(identifiesClient(key)).toBe(false)
    for (const key of ['10.0.0.1', '2001:db8::1', '128.0.0.1']) expect(identifiesClient(key)).toBe(true)
  })
})
