/**
 * The request digest of binding v2 (PROTOCOL §3.5, §3.6):
 * `sha256hex(UTF-8(METHOD ‖ "\n" ‖ TARGET ‖ "\n" ‖ content_sha256))`, which the PoP signs so
 * that a signature covers one method, one target and one exact body.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex, utf8ToBytes } from '../encoding'
import { assertBytes, assertString } from '../_assert'

/** `content_sha256` (§3.5): sha256hex of the exact body bytes; an absent body is the empty string's. */
export function computeContentSha256(body: Uint8Array): string {
  assertBytes(body, 'body')
  return bytesToHex(sha256(body))
}

export interface RequestDigestParams {
  /** Uppercased here. */
  method: string
  /** `pathname + search` as the WHATWG URL parser serialises it, from `/kms/` or `/sync` on. */
  target: string
  /** 64 lowercase hex digits. */
  contentSha256: string
}

export function computeRequestDigest({ method, target, contentSha256 }: RequestDigestParams): string {
  assertString(method, 'method')
  assertString(target, 'target')
  if (!/^[0-9a-f]{64}$/.test(contentSha256)) throw new TypeError('contentSha256: expected 64 lowercase hex digits')
  return bytesToHex(sha256(utf8ToBytes(`${method.toUpperCase()}\n${target}\n${contentSha256}`)))
}
