/**
 * WebCrypto access. `crypto.subtle` is looked up on every call, never at module scope:
 * workerd forbids crypto at the top level of a module (DESIGN §3), and tests may swap it.
 */

export function subtle(): SubtleCrypto {
  const found = globalThis.crypto?.subtle
  if (found === undefined) throw new Error('WebCrypto: crypto.subtle is not available in this runtime')
  return found
}

/**
 * WebCrypto takes ArrayBuffer-backed views only (TS `BufferSource`); a view over a
 * SharedArrayBuffer is copied.
 */
export function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes)
}
