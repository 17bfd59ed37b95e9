/** One LDH label (RFC 1035 §2.3.1 as relaxed by RFC 1123 §2.1): 1..63 characters. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/**
 * A final label that the WHATWG URL host parser would read as a number ("ends in a number":
 * decimal, or 0x hex). Such a host is an IPv4 literal in one of its forms, never a DNS name
 * (RFC 3696 §2: a top-level domain is not all-numeric).
 */
const NUMERIC_LABEL = /^(?:[0-9]+|0x[0-9a-f]*)$/

/**
 * The host of the registry `instanceUrl`, lowercased and without a trailing dot, if it is a
 * DNS name (1..253 characters of LDH labels) and not an IP literal. IPv6 hosts (`[…]`) fail
 * the label rule. The URL comes from the chain, so it is parsed defensively: anything
 * unparsable, hostless or odd simply yields no DNS name, never an error.
 */
export function dnsNameOfInstanceUrl(instanceUrl: string): string | undefined {
  if (!URL.canParse(instanceUrl)) return undefined
  let host = new URL(instanceUrl).hostname.toLowerCase()
  if (host.endsWith('.')) host = host.slice(0, -1)
  return isDnsName(host) ? host : undefined
}

/** 1..253 characters of lowercase LDH labels, the last one not numeric (so no IPv4 form). */
function isDnsName(name: string): boolean {
  if (name.length < 1 || name.length > 253) return false
  const labels = name.split('.')
  return labels.every((label) => LABEL.test(label)) && !NUMERIC_LABEL.test(labels[labels.length - 1]!)
}

/**
 * The dNSName for a leaf's SAN (PROTOCOL §8.5 item 8), or `undefined` for none.
 *
 * A registry `instanceUrl` is whatever the app's operator registered, so its host proves
 * nothing: a tenant could register another tenant's host and get a serverAuth certificate
 * for it. A suffix allow-list alone would not help either, since every tenant shares the
 * suffix. So the name must lie in the app's own zone, `app-<app_id>.<dnsSuffix>`: the host
 * equals that name or is a subdomain of it. The operator delegates only that zone to app
 * `<app_id>`, and no other app id can produce a name inside it (`app-7.` vs `app-77.`: the
 * match is on whole labels).
 *
 * `dnsSuffix` is `CA_DNS_SUFFIX` as `readConfig` returns it: lowercase LDH labels without a
 * trailing dot. Empty issues no DNS name at all; so does a suffix in any other form
 * (uppercase, a leading or trailing dot, a wildcard): a malformed policy never widens
 * issuance. The rule depends only on the registry record and the configuration, so every
 * node issues the same names.
 */
export function ownedDnsName(instanceUrl: string, appId: number, dnsSuffix: string): string | undefined {
  if (dnsSuffix === '' || !isDnsName(dnsSuffix)) return undefined
  const host = dnsNameOfInstanceUrl(instanceUrl)
  if (host === undefined) return undefined
  const zone = `app-${appId}.${dnsSuffix}`
  return host === zone || host.endsWith(`.${zone}`) ? host : undefined
}
