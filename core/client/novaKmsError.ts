/**
 * The base of every error the SDK throws on purpose, in viem's style: a one-line
 * `shortMessage`, optional `details`, the `cause` it wraps, and `walk()` to find a given
 * error down the cause chain. Every one carries a `code`: the PROTOCOL code (§12.4) when a
 * node gave one, otherwise the client's own (`registry_unavailable`, `nodes_unavailable`, …).
 *
 * Unlike viem, `message` is the short message alone: it is the PROTOCOL's wire-safe text,
 * which apps and tests match on; `details` adds what is known beyond it.
 */
export class NovaKmsError extends Error {
  override readonly name: string = 'NovaKmsError'
  readonly code: string
  readonly shortMessage: string
  readonly details: string | undefined

  constructor(shortMessage: string, options: { code: string; details?: string; cause?: unknown }) {
    super(shortMessage, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = options.code
    this.shortMessage = shortMessage
    this.details = options.details
  }

  /**
   * Without a predicate, the deepest error of the cause chain (this one if it has no cause).
   * With one, the first error of the chain, this one included, that satisfies it, or `null`.
   * The chain is followed at most 32 deep, so a cyclic `cause` cannot loop.
   */
  walk(predicate?: (error: unknown) => boolean): unknown {
    let current: unknown = this
    for (let depth = 0; depth < 32; depth++) {
      if (predicate?.(current) === true) return current
      const next: unknown = current instanceof Error ? current.cause : undefined
      if (next === undefined) return predicate === undefined ? current : null
      current = next
    }
    return predicate === undefined ? current : null
  }
}
