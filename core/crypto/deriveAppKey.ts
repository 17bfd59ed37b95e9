import { utf8ToBytes } from '../encoding'
import { assertBytes, assertInteger, assertString } from '../_assert'
import { hkdfSha256 } from './hkdfSha256'

export interface DeriveAppKeyParams {
  /** The 32-byte cluster master secret. */
  masterSecret: Uint8Array
  appId: number
  path: string
  /** Appended to `path` after `:` unless empty. */
  context?: string
  /** Output length in bytes (the /kms/derive boundary allows 1..1024, PROTOCOL §2.4). */
  length: number
}

export type DeriveAppKeyResult = Uint8Array

/**
 * HKDF v1 (PROTOCOL §5.2): `HKDF-SHA256(IKM=master, salt="nova-kms:app:<appId>",
 * info=path or path‖":"‖context, L)`. The `path:context` join is ambiguous
 * (`("a:b","")` equals `("a","b")`); it is kept for wire compatibility with upstream.
 */
export async function deriveAppKey({
  masterSecret,
  appId,
  path,
  context = '',
  length,
}: DeriveAppKeyParams): Promise<DeriveAppKeyResult> {
  assertBytes(masterSecret, 'masterSecret', 32)
  assertInteger(appId, 'appId', 0, Number.MAX_SAFE_INTEGER)
  assertString(path, 'path')
  assertString(context, 'context')
  return hkdfSha256({
    ikm: masterSecret,
    salt: utf8ToBytes(`nova-kms:app:${appId}`),
    info: utf8ToBytes(context === '' ? path : `${path}:${context}`),
    length,
  })
}

/** `data_key(app) = derive(app, "data_key", "", 32)` (PROTOCOL §5.2): the record key of §5.3. */
export async function deriveDataKey(masterSecret: Uint8Array, appId: number): Promise<Uint8Array> {
  return deriveAppKey({ masterSecret, appId, path: 'data_key', length: 32 })
}

/** `sync_key = derive(0, "sync_hmac_key", "", 32)` (PROTOCOL §5.2): the /sync HMAC key of §5.4. */
export async function deriveSyncKey(masterSecret: Uint8Array): Promise<Uint8Array> {
  return deriveAppKey({ masterSecret, appId: 0, path: 'sync_hmac_key', length: 32 })
}
