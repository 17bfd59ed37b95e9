/**
 * AES-256-GCM over raw bytes, straight on WebCrypto: lets a test build ciphertexts the
 * production API refuses to make (a non-UTF-8 envelope, a sealed secret of the wrong size).
 */
export async function sealRawAesGcm(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  const buffer = (bytes: Uint8Array) => new Uint8Array(bytes)
  const imported = await crypto.subtle.importKey('raw', buffer(key), 'AES-GCM', false, ['encrypt'])
  return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: buffer(nonce) }, imported, buffer(plaintext)))
}
