import { bytesToBase64, parseBase64 } from '../encoding'

/**
 * PEM as PROTOCOL §8.2 fixes it (RFC 7468 §2 strict form): 64-character base64 lines
 * between the BEGIN and END lines, and a trailing newline.
 */
export function encodePem(label: string, der: Uint8Array): string {
  const body = bytesToBase64(der)
  let lines = ''
  for (let offset = 0; offset < body.length; offset += 64) lines += body.slice(offset, offset + 64) + '\n'
  return `-----BEGIN ${label}-----\n${lines}-----END ${label}-----\n`
}

/**
 * The body of one PEM block whose label is one of `labels` (BEGIN and END must match), or
 * `undefined`. Whitespace around the block is tolerated; inside it only line breaks are
 * removed (PROTOCOL §0), then the base64 is decoded strictly, so any other whitespace,
 * explanatory text or a second block makes the whole text invalid.
 */
export function decodePem(text: string, labels: readonly string[]): Uint8Array | undefined {
  const trimmed = text.trim()
  for (const label of labels) {
    const begin = `-----BEGIN ${label}-----`
    const end = `-----END ${label}-----`
    if (trimmed.length < begin.length + end.length || !trimmed.startsWith(begin) || !trimmed.endsWith(end)) continue
    const body = trimmed.slice(begin.length, trimmed.length - end.length)
    return parseBase64(body.replace(/\r?\n/g, ''))
  }
  return undefined
}
