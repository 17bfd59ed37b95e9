import { bytesToBase64 } from '../encoding'

/**
 * `-----BEGIN PUBLIC KEY-----` PEM (RFC 7468 §13) of a DER SPKI, with 64-character lines:
 * Odyn's `/v1/attestation` takes `public_key` as PEM and embeds the DER inside it (§10.1).
 */
export function encodePublicKeyPem(der: Uint8Array): string {
  const body = bytesToBase64(der)
  let lines = ''
  for (let offset = 0; offset < body.length; offset += 64) lines += `${body.slice(offset, offset + 64)}\n`
  return `-----BEGIN PUBLIC KEY-----\n${lines}-----END PUBLIC KEY-----\n`
}
