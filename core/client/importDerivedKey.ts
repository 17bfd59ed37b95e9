/**
 * A derived key as a non-extractable WebCrypto key (issue 17): once imported, the key's bytes
 * cannot be read back through WebCrypto, so code that only encrypts, signs or derives with it
 * never holds them. The raw bytes are overwritten with zeros as soon as the import is done
 * (best effort: JavaScript gives no guarantee that no copy survives elsewhere).
 */
import { bufferSource } from '../crypto/_subtle'

/** What the key is for: an algorithm WebCrypto imports from raw bytes, and its usages. */
export interface DerivedKeyUsage {
  /** For example `{ name: 'AES-GCM' }`, `{ name: 'HMAC', hash: 'SHA-256' }`, `'HKDF'`. */
  algorithm: AlgorithmIdentifier | HmacImportParams
  usages: KeyUsage[]
}

/** Imports `bytes` as a non-extractable key, then zeroes `bytes`, even when the import fails. */
export async function importDerivedKey(bytes: Uint8Array, { algorithm, usages }: DerivedKeyUsage): Promise<CryptoKey> {
  // WebCrypto takes an ArrayBuffer-backed view; the copy is zeroed too.
  const copy = bufferSource(bytes.slice())
  try {
    return await crypto.subtle.importKey('raw', copy, algorithm, false, usages)
  } finally {
    copy.fill(0)
    bytes.fill(0)
  }
}
