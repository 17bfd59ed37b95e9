/**
 * AES-256-GCM with a 12-byte nonce, a 16-byte tag and no AAD (PROTOCOL §5.1), shared by
 * records (§5.3), the envelope cipher (§10.2) and master-secret sealing (§5.5).
 *
 * WebCrypto everywhere by default. A runtime may install a synchronous cipher instead
 * ({@link useNativeAesGcm}): under Node, WebCrypto's AES-GCM is a job on libuv's thread pool,
 * so each call costs a key import, a thread hop and a promise, about 55–100 µs of CPU for a
 * 200-byte envelope, where OpenSSL called directly takes 7–11 µs (bench `crypto_primitives_us`).
 * The node makes two such calls per request. noble's AES is not an option: it uses lookup
 * tables, whose timing depends on the key.
 */
import { assertBytes } from '../_assert'
import { bufferSource, subtle } from './_subtle'

export const AES_GCM_NONCE_LENGTH = 12
export const AES_GCM_TAG_LENGTH = 16

/**
 * A synchronous AES-256-GCM (§5.1) a runtime supplies. It must give byte for byte what
 * WebCrypto gives: `seal` returns ciphertext ‖ tag, `open` the plaintext or `undefined` when
 * the input is shorter than the tag or the tag does not verify, and nothing else.
 */
export interface NativeAesGcm {
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Uint8Array
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Uint8Array | undefined
}

/**
 * A key for the installed {@link NativeAesGcm}. Its bytes stay in this object (a copy, so a
 * caller reusing its buffer cannot change the key); the node's derived keys are in JavaScript
 * memory already, since HKDF runs on noble, so this exposes nothing a CryptoKey would hide.
 */
class NativeAesGcmKey {
  readonly #raw: Uint8Array
  readonly #cipher: NativeAesGcm
  constructor(raw: Uint8Array, cipher: NativeAesGcm) {
    this.#raw = Uint8Array.from(raw)
    this.#cipher = cipher
  }
  seal(nonce: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return this.#cipher.seal(this.#raw, nonce, plaintext)
  }
  open(nonce: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
    return this.#cipher.open(this.#raw, nonce, sealed)
  }
}

/** An imported AES-256-GCM key: a non-extractable WebCrypto key, or one for the native cipher. */
export type AesGcmKey = CryptoKey | NativeAesGcmKey

let nativeCipher: NativeAesGcm | undefined

/**
 * Installs (or, with `undefined`, removes) the cipher that keys imported from now on use. A
 * key keeps the implementation it was imported with, so a switch never strands a key.
 */
export function useNativeAesGcm(cipher: NativeAesGcm | undefined): void {
  nativeCipher = cipher
}

/** Imports a 32-byte key for both directions: for the native cipher when one is installed. */
export async function importAesGcmKey(raw: Uint8Array, field: string): Promise<AesGcmKey> {
  assertBytes(raw, field, 32)
  if (nativeCipher !== undefined) return new NativeAesGcmKey(raw, nativeCipher)
  return subtle().importKey('raw', bufferSource(raw), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt'])
}

/** @returns ciphertext ‖ tag. */
export async function aesGcmSeal(key: AesGcmKey, nonce: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array> {
  assertBytes(nonce, 'nonce', AES_GCM_NONCE_LENGTH)
  assertBytes(plaintext, 'plaintext')
  if (key instanceof NativeAesGcmKey) return key.seal(nonce, plaintext)
  const sealed = await subtle().encrypt(
    { name: 'AES-GCM', iv: bufferSource(nonce), tagLength: 128 },
    key,
    bufferSource(plaintext),
  )
  return new Uint8Array(sealed)
}

/**
 * @returns the plaintext, or `undefined` when the tag does not verify (WebCrypto's
 *   `OperationError`, the same name in Node, workerd and browsers). Any other error is a
 *   bug and propagates.
 */
export async function aesGcmOpen(
  key: AesGcmKey,
  nonce: Uint8Array,
  sealed: Uint8Array,
): Promise<Uint8Array | undefined> {
  if (key instanceof NativeAesGcmKey) return key.open(nonce, sealed)
  try {
    const opened = await subtle().decrypt(
      { name: 'AES-GCM', iv: bufferSource(nonce), tagLength: 128 },
      key,
      bufferSource(sealed),
    )
    return new Uint8Array(opened)
  } catch (error) {
    // Matched by name: a DOMException need not be an `instanceof Error` in every runtime.
    if (typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'OperationError') {
      return undefined
    }
    throw error
  }
}
