/**
 * Token-bucket rate limiting (PROTOCOL §12.2): one bucket per key, capacity = the
 * per-minute rate, continuous refill at rate/60 tokens per second, bounded bucket table
 * with least-recently-used eviction.
 */
import type { Clock } from '../runtime'

export interface RateLimiterOptions {
  clock: Clock
  /** Tokens per minute; 0 turns the limiter off. */
  ratePerMinute: number
  /** `MAX_RATE_BUCKETS`. */
  maxBuckets: number
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

interface Bucket {
  tokens: number
  refilledAtMs: number
}

/** Buckets idle this long are full again, so dropping them changes nothing (§12.2: MAY). */
const IDLE_BUCKET_MS = 300_000

export class RateLimiter {
  readonly #options: RateLimiterOptions
  /** Map order is recency order: the first entry is the least recently used bucket. */
  readonly #buckets = new Map<string, Bucket>()

  constructor(options: RateLimiterOptions) {
    this.#options = options
  }

  get bucketCount(): number {
    return this.#buckets.size
  }

  /** Takes `cost` tokens from `key`'s bucket if it holds them. */
  take(key: string, cost = 1): RateDecision {
    const { ratePerMinute, maxBuckets, clock } = this.#options
    if (ratePerMinute <= 0) return { allowed: true }
    const now = clock.nowMs()
    const refillPerMs = ratePerMinute / 60_000
    let bucket = this.#buckets.get(key)
    if (bucket === undefined) {
      bucket = { tokens: ratePerMinute, refilledAtMs: now }
    } else {
      this.#buckets.delete(key)
      const elapsed = Math.max(0, now - bucket.refilledAtMs)
      bucket.tokens = Math.min(ratePerMinute, bucket.tokens + elapsed * refillPerMs)
      bucket.refilledAtMs = now
    }
    this.#buckets.set(key, bucket)
    this.#evict(now, maxBuckets)
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost
      return { allowed: true }
    }
    const waitMs = (cost - bucket.tokens) / refillPerMs
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
  }

  #evict(now: number, maxBuckets: number): void {
    for (const [key, bucket] of this.#buckets) {
      const overCapacity = this.#buckets.size > maxBuckets
      if (!overCapacity && now - bucket.refilledAtMs <= IDLE_BUCKET_MS) break
      this.#buckets.delete(key)
    }
  }
}
