/** One LDH label (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1): 1..63 characters. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * A final label that the WHATWG URL host parser would read as a number ("ends in a number":
 * decimal, or 0x hex). Such a host is an IPv4 literal in one of its forms, never a DNS name
 * (RFC 3696 §2: a top-level domain is not all-numeric).
 */
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/

/**
 * The dNSName for a leaf's SAN (PROTOCOL §8.5 item 8): the host of the registry
 * `instanceUrl`, lowercased and without a trailing dot, if it is a DNS name (1..253
 * characters of LDH labels) and not an IP literal. IPv6 hosts (`[…]`) fail the label rule.
 * The URL comes from the chain, so it is parsed defensively: anything unparsable, hostless
 * or odd simply yields no DNS name, never an error.
 */
export function dnsNameOfInstanceUrl(instanceUrl: string): string | undefined {
  if (!URL.canParse(instanceUrl)) return undefined
  let host = new URL(instanceUrl).hostname.toLowerCase()
  if (host.endsWith('.')) host = host.slice(0, -1)
  if (host.length < 1 || host.length > 253) return undefined
  const labels = host.split('.')
  if (!labels.every((label) => LABEL.test(label))) return undefined
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!)) return undefined
  return host
}
