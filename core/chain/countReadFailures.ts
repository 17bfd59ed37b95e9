/**
 * Counts a reader's failed reads (PROTOCOL §2.8 `nova_kms_registry_read_failures_total`):
 * every method of a registry reader is an RPC read that either answers or throws, so a
 * throw is a failure to read the chain. The error still propagates unchanged, so whatever
 * fails closed on it still does; this only lets an operator see it.
 */

/**
 * A reader with the same members as `reader`, each calling `onFailure()` once when the read
 * rejects (synchronous throws are counted too: they are failed reads all the same).
 */
export function countReadFailures<Reader extends object>(reader: Reader, onFailure: () => void): Reader {
  const counted: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(reader as Record<string, unknown>)) {
    if (typeof member !== 'function') {
      counted[name] = member
      continue
    }
    const method = member as (...args: unknown[]) => unknown
    counted[name] = async (...args: unknown[]): Promise<unknown> => {
      try {
        return await method.apply(reader, args)
      } catch (error) {
        onFailure()
        throw error
      }
    }
  }
  return counted as Reader
}
