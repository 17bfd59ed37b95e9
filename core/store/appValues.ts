/**
 * An app's values in plaintext terms (PROTOCOL §2.5, §5.3): encrypt-then-put and
 * get-then-decrypt over the ciphertext-only `KvStore`, with the app's data key from the key
 * ring. The store never sees plaintext, and the key ring never sees the store.
 */
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { KvStore } from './kvStore'
import type { StoreRecord } from './storeRecord'

/** A record's AES-GCM nonce length (§5.3). */
const RECORD_NONCE_BYTES = 12

/**
 * The data keys, per cluster epoch (§5.3, §6.10). Each method must use the epoch it is given:
 * the record stores that epoch as its `key_epoch`, and every reader decrypts under it.
 */
export interface AppValueCipher {
  /** Encrypts under `data_key(appId, keyEpoch)`. */
  encryptValue(appId: number, plaintext: Uint8Array, nonce: Uint8Array, keyEpoch: number): Promise<Uint8Array>
  /** Decrypts under `data_key(appId, keyEpoch)`. */
  decryptValue(appId: number, ciphertext: Uint8Array, keyEpoch: number): Promise<Uint8Array>
}

export interface AppValuesOptions {
  store: Pick<KvStore, 'get' | 'put'>
  cipher: AppValueCipher
  random: Random
}

export interface AppValue {
  value: Uint8Array
  updatedAtMs: number
}

export interface AppValues {
  /**
   * Reads and decrypts `key` of `appId`, under the key epoch the record names.
   * @throws KmsError 404 `not_found`; 400 `decryption_failed` for a value that no longer
   *   opens (the namespace stays usable); 503 without a secret.
   */
  get(appId: number, key: string): Promise<AppValue>
  /**
   * Encrypts under a fresh nonce and `data_key(appId, keyEpoch)`, and stores the record with
   * that `key_epoch`. `keyEpoch` is the node's serving epoch (§7.7); 0 before any rotation.
   * @returns the stored record and its `updated_at_ms`.
   * @throws KmsError 503 without a secret; the store's 4xx for limits.
   */
  put(appId: number, key: string, value: Uint8Array, ttlMs: number, keyEpoch?: number): Promise<{ updatedAtMs: number; record: StoreRecord }>
}

export function createAppValues({ store, cipher, random }: AppValuesOptions): AppValues {
  return {
    async get(appId, key) {
      const record = store.get(appId, key)
      const value = await cipher.decryptValue(appId, record.ciphertext, record.keyEpoch).catch((error: unknown) => {
        if (error instanceof KmsError) throw error
        throw new KmsError('decryption_failed', 'Decryption failed', { cause: error, details: `app ${appId}` })
      })
      return { value, updatedAtMs: record.updatedAtMs }
    },
    async put(appId, key, value, ttlMs, keyEpoch = 0) {
      const ciphertext = await cipher.encryptValue(appId, value, random.bytes(RECORD_NONCE_BYTES), keyEpoch)
      const record = store.put(appId, key, ciphertext, ttlMs, keyEpoch)
      return { updatedAtMs: record.updatedAtMs, record }
    },
  }
}
