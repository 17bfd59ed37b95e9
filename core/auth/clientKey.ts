/**
 * The per-client rate-limit key (PROTOCOL §12.2).
 */

/** The key used when the runtime exposes no socket address (workerd). */
export const UNKNOWN_CLIENT = 'unknown'

/**
 * Picks the client key from the socket address and `X-Forwarded-For`. The header counts
 * only with `trustedProxyHops > 0`: the N-th entry from the right, or the leftmost if there
 * are fewer than N.
 */
export function resolveClientKey(params: {
  socketAddress: string | undefined
  forwardedFor: string | null
  trustedProxyHops: number
}): string {
  const { socketAddress, forwardedFor, trustedProxyHops } = params
  if (trustedProxyHops > 0 && forwardedFor !== null) {
    const entries = forwardedFor.split(',').map((entry) => entry.trim())
    const picked = entries.length >= trustedProxyHops ? entries[entries.length - trustedProxyHops] : entries[0]
    if (picked !== undefined && picked !== '') return picked
  }
  return socketAddress ?? UNKNOWN_CLIENT
}

/**
 * True when the key names a real client. Loopback and `unknown` do not: behind the
 * enclave's L4 proxy every connection is loopback, and limiting it would put all clients
 * in one bucket (§12.2).
 */
export function identifiesClient(key: string): boolean {
  if (key === UNKNOWN_CLIENT || key === '') return false
  const address = key.startsWith('::ffff:') ? key.slice(7) : key
  if (address === '::1' || address === '0:0:0:0:0:0:0:1') return false
  return !/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)
}
