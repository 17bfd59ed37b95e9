import { utf8ToBytes } from '../encoding'
import { assertBytes, assertInteger, assertString } from '../_assert'
import { hkdfSha256 } from './hkdfSha256'

/** The largest cluster or app key epoch, 2^32 − 1 (PROTOCOL §5.2 "HKDF v2"; a uint32 on chain). */
export const MAX_KEY_EPOCH = 0xffff_ffff

export interface DeriveAppKeyParams {
  /** The 32-byte master secret of the cluster epoch `clusterEpoch` (`secret_c`). */
  masterSecret: Uint8Array
  appId: number
  path: string
  /** Appended to `path` after `:` unless empty. */
  context?: string
  /** Output length in bytes (the /kms/derive boundary allows 1..1024, PROTOCOL §2.4). */
  length: number
  /** The cluster epoch c that `masterSecret` belongs to, 0..2^32−1; default 0. */
  clusterEpoch?: number
  /** The app key epoch a, 0..2^32−1; default 0. */
  appEpoch?: number
}

export type DeriveAppKeyResult = Uint8Array

/**
 * HKDF v1 and v2 (PROTOCOL §5.2). `info` is `path`, or `path‖":"‖context` unless `context`
 * is empty, in both versions.
 * - (c, a) = (0, 0), v1: `HKDF-SHA256(IKM=secret_0, salt="nova-kms:app:<appId>", info, L)`,
 *   byte for byte the keys of before epochs (§5.7).
 * - any other (c, a), v2: `HKDF-SHA256(IKM=secret_c,
 *   salt="nova-kms:v2:app:<appId>:cluster-epoch:<c>:app-epoch:<a>", info, L)`.
 *
 * The v2 salt names both epochs, so an app epoch bump changes the key even under the same
 * secret, and no v2 salt equals a v1 salt (every v1 salt starts `nova-kms:app:`). Each
 * number is decimal without leading zeros and is followed by a fixed label or ends the salt,
 * so distinct (app, c, a) give distinct salts (RFC 5869 §3.1: the salt separates uses of one
 * IKM). The `path:context` join is ambiguous (`("a:b","")` equals `("a","b")`); it is kept
 * for wire compatibility with upstream.
 *
 * @throws TypeError | RangeError on a malformed secret, id, path, length or epoch (a caller bug).
 */
export async function deriveAppKey({
  masterSecret,
  appId,
  path,
  context = '',
  length,
  clusterEpoch = 0,
  appEpoch = 0,
}: DeriveAppKeyParams): Promise<DeriveAppKeyResult> {
  assertBytes(masterSecret, 'masterSecret', 32)
  assertInteger(appId, 'appId', 0, Number.MAX_SAFE_INTEGER)
  assertString(path, 'path')
  assertString(context, 'context')
  assertInteger(clusterEpoch, 'clusterEpoch', 0, MAX_KEY_EPOCH)
  assertInteger(appEpoch, 'appEpoch', 0, MAX_KEY_EPOCH)
  const salt =
    clusterEpoch === 0 && appEpoch === 0
      ? `nova-kms:app:${appId}`
      : `nova-kms:v2:app:${appId}:cluster-epoch:${clusterEpoch}:app-epoch:${appEpoch}`
  return hkdfSha256({
    ikm: masterSecret,
    salt: utf8ToBytes(salt),
    info: utf8ToBytes(context === '' ? path : `${path}:${context}`),
    length,
  })
}

/**
 * `data_key(app, c) = derive_(c,0)(app, "data_key", "", 32)` (PROTOCOL §5.2): the record key
 * of §5.3 under cluster epoch c. The app key epoch never changes it, so an app epoch bump
 * needs no re-encryption; c = 0 is the v1 `data_key(app)`.
 * @throws TypeError | RangeError on a malformed input (a caller bug).
 */
export async function deriveDataKey(masterSecret: Uint8Array, appId: number, clusterEpoch = 0): Promise<Uint8Array> {
  return deriveAppKey({ masterSecret, appId, path: 'data_key', length: 32, clusterEpoch })
}

/**
 * `sync_key(c) = derive_(c,0)(0, "sync_hmac_key", "", 32)` (PROTOCOL §5.2): the /sync HMAC key
 * of §5.4 under cluster epoch c; c = 0 is the v1 `sync_key`.
 * @throws TypeError | RangeError on a malformed input (a caller bug).
 */
export async function deriveSyncKey(masterSecret: Uint8Array, clusterEpoch = 0): Promise<Uint8Array> {
  return deriveAppKey({ masterSecret, appId: 0, path: 'sync_hmac_key', length: 32, clusterEpoch })
}

/**
 * `reencrypt_nonce_key(app, c) = derive_(c,0)(app, "data_reencrypt_nonce", "", 32)` (PROTOCOL
 * §5.2, §6.10): the HMAC key of {@link reencryptRecord}'s nonces for records moved to epoch c.
 * `masterSecret` is `secret_c`, the target epoch's secret, as for `data_key(app, c)`.
 * @throws TypeError | RangeError on a malformed input (a caller bug).
 */
export async function deriveReencryptNonceKey(
  masterSecret: Uint8Array,
  appId: number,
  clusterEpoch: number,
): Promise<Uint8Array> {
  return deriveAppKey({ masterSecret, appId, path: 'data_reencrypt_nonce', length: 32, clusterEpoch })
}
