/**
 * The awaiting node's verified shares for one (chain hash, policy) (PROTOCOL §7.6). Shares
 * come in already checked against their commitments; the collector keeps at most one per
 * custodian index, never more than the policy's custodians, and combines at the threshold.
 * A combination whose keccak256 is not the chain's hash (impossible with verified
 * commitments, defended anyway) drops nothing: the shares stay and the error is reported.
 */
import { bytesEqual } from '../encoding'
import { masterSecretHash } from '../crypto'
import { combineShares } from './shamir'

export type CollectorAddResult =
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'stored'; readonly received: number }
  | { readonly kind: 'recovered'; readonly secret: Uint8Array }
  | { readonly kind: 'combine_failed'; readonly error: string }

export class RecoveryShareCollector {
  readonly secretHash: Uint8Array
  readonly policyId: number
  readonly threshold: number
  readonly custodianCount: number
  readonly #shares = new Map<number, Uint8Array>()
  /** Who has answered; kept after `clear`, so /status and receipts still name them. */
  readonly #answered = new Set<number>()
  #lastCombineError: string | null = null

  constructor(params: { secretHash: Uint8Array; policyId: number; threshold: number; custodianCount: number }) {
    if (params.custodianCount < 1 || params.custodianCount > 16 || params.threshold < 1 || params.threshold > params.custodianCount) {
      throw new RangeError('collector: expected 1 ≤ threshold ≤ custodianCount ≤ 16')
    }
    this.secretHash = params.secretHash.slice()
    this.policyId = params.policyId
    this.threshold = params.threshold
    this.custodianCount = params.custodianCount
  }

  /** True while this collector is for that hash and policy; otherwise the caller resets. */
  matches(secretHash: Uint8Array, policyId: number): boolean {
    return policyId === this.policyId && bytesEqual(secretHash, this.secretHash)
  }

  get received(): number {
    return this.#answered.size
  }

  /** Indices that have answered, ascending. */
  get answered(): number[] {
    return [...this.#answered].sort((a, b) => a - b)
  }

  has(index: number): boolean {
    return this.#answered.has(index)
  }

  get lastCombineError(): string | null {
    return this.#lastCombineError
  }

  /** Adds a verified share; at the threshold, combines and checks against the hash. */
  add(index: number, share: Uint8Array): CollectorAddResult {
    if (!Number.isInteger(index) || index < 0 || index >= this.custodianCount) throw new RangeError('collector: index out of policy')
    if (this.#answered.has(index)) return { kind: 'duplicate' }
    this.#shares.set(index, share.slice())
    this.#answered.add(index)
    if (this.#shares.size < this.threshold) return { kind: 'stored', received: this.#shares.size }
    return this.combine()
  }

  /** Combines what is held (≥ threshold). */
  combine(): CollectorAddResult {
    let secret: Uint8Array
    try {
      secret = combineShares([...this.#shares.values()])
    } catch (error) {
      this.#lastCombineError = error instanceof Error ? error.message : 'combine failed'
      return { kind: 'combine_failed', error: this.#lastCombineError }
    }
    if (secret.length !== 32 || !bytesEqual(masterSecretHash(secret), this.secretHash)) {
      secret.fill(0)
      this.#lastCombineError = 'combined secret does not match the chain hash'
      return { kind: 'combine_failed', error: this.#lastCombineError }
    }
    this.#lastCombineError = null
    return { kind: 'recovered', secret }
  }

  /** Wipes the held share bytes (after install, or on reset); who answered is kept. */
  clear(): void {
    for (const share of this.#shares.values()) share.fill(0)
    this.#shares.clear()
  }
}
