/**
 * The request side of binding v2 (PROTOCOL §3.5, §3.6): which version a request speaks, the
 * TARGET it was sent to, and the digest its PoP must cover. Read from the headers alone, so
 * that a request is authenticated before a byte of its body is read.
 */
import { computeRequestDigest } from '../crypto'
import { KmsError } from '../errors'

export type AuthVersion = 1 | 2

/**
 * `X-App-Auth-Version` / `X-Sync-Version`: absent or `1` is v1, `2` is v2.
 * @throws KmsError 400 `Unsupported auth version`
 */
export function parseAuthVersion(header: string | null): AuthVersion {
  if (header === null || header.trim() === '1') return 1
  if (header.trim() === '2') return 2
  throw new KmsError('bad_request', 'Unsupported auth version')
}

/**
 * TARGET (§3.5): `pathname + search` as the WHATWG URL parser serialises it, with the path of
 * the node's registered `instanceUrl` (if any) removed from the front, so that client and
 * node agree whether or not a proxy keeps that prefix.
 */
export function requestTarget(url: URL, instanceUrl: string): string {
  const target = url.pathname + url.search
  let prefix = ''
  if (instanceUrl !== '' && URL.canParse(instanceUrl)) prefix = new URL(instanceUrl).pathname.replace(/\/+$/, '')
  return prefix !== '' && target.startsWith(`${prefix}/`) ? target.slice(prefix.length) : target
}

/**
 * `X-App-Content-SHA256`, lowercased: 64 hex digits.
 * @throws KmsError 403 `unauthorized` when missing or malformed.
 */
export function parseContentSha256(header: string | null): string {
  const value = header?.trim().toLowerCase()
  if (value === undefined || !/^[0-9a-f]{64}$/.test(value)) throw new KmsError('unauthorized', 'Missing x-app-content-sha256')
  return value
}

export interface RequestBinding {
  version: AuthVersion
  /** v2 only: the digest the PoP covers, and the body hash the body must match. */
  v2?: { requestDigest: string; contentSha256: string }
}

/**
 * Reads the binding of a request from its headers.
 * @throws KmsError 400 for an unknown version; 403 for v1 when `minVersion` is 2
 *   (`Request binding required`) or a v2 request without a content hash.
 */
export function readRequestBinding(params: {
  request: Request
  versionHeader: string
  instanceUrl: string
  minVersion: AuthVersion
}): RequestBinding {
  const { request } = params
  const version = parseAuthVersion(request.headers.get(params.versionHeader))
  if (version < params.minVersion) throw new KmsError('unauthorized', 'Request binding required')
  if (version === 1) return { version }
  const contentSha256 = parseContentSha256(request.headers.get('x-app-content-sha256'))
  const target = requestTarget(new URL(request.url), params.instanceUrl)
  return { version, v2: { contentSha256, requestDigest: computeRequestDigest({ method: request.method, target, contentSha256 }) } }
}
