/** `PUBLIC KEY` PEM (RFC 7468 §13), as `/v1/encryption/public_key` and `/v1/attestation` use it. */
import { bytesToBase64, parseBase64 } from '../../core/encoding'

const PEM = /^-----BEGIN PUBLIC KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PUBLIC KEY-----\s*$/

/** PEM of a DER SPKI, 64-character lines. */
export function encodePublicKeyPem(der: Uint8Array): string {
  const body = bytesToBase64(der)
  const lines: string[] = []
  for (let offset = 0; offset < body.length; offset += 64) lines.push(body.slice(offset, offset + 64))
  return `-----BEGIN PUBLIC KEY-----\n${lines.join('\n')}\n-----END PUBLIC KEY-----\n`
}

/** The DER inside a `PUBLIC KEY` PEM, or `undefined` if the text is not one. */
export function decodePublicKeyPem(text: string): Uint8Array | undefined {
  const match = PEM.exec(text.trim() + '\n')
  if (match === null) return undefined
  const der = parseBase64(match[1]!.replace(/[\r\n]/g, ''))
  return der === undefined || der.length === 0 ? undefined : der
}
