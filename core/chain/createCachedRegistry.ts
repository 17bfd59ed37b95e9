/** The read-through NovaAppRegistry cache of PROTOCOL §3.3 ("Caching"). */
import type { Clock } from '../runtime'
import { requireId, requireWallet } from './_arguments'
import { ReadThroughCache } from './_readThroughCache'
import type { AppRecord, InstanceRecord, NovaAppRegistryReader, VersionRecord } from './types'

export interface CreateCachedRegistryOptions {
  clock: Clock
  /**
   * `REGISTRY_CACHE_TTL_SECONDS` (PROTOCOL §11): how long a found entry is reused without a
   * read, capped at `FOUND_TTL_CAP_SECONDS`; 0 caches nothing.
   */
  ttlSeconds: number
  /** Entries kept per kind (instances, apps, versions); the oldest goes first. */
  maxEntries?: number
  /**
   * Reload an entry in use this long before it expires, in the background, so that no
   * request waits on the chain when it does (issue 14: a chain read on the request path was
   * one source of tail latency). Never serves anything older. Default 0: reload on expiry.
   */
  refreshAheadSeconds?: number
}

export interface CachedRegistry extends NovaAppRegistryReader {
  /** Drops every entry; reads already under way do not repopulate the cache. */
  invalidate(): void
}

/**
 * A revoked app, version or instance loses access within this long of the chain showing it
 * (PROTOCOL §1, §3.3): no cached answer read longer ago than this is ever used, whether the
 * registry can be read or not.
 */
export const REVOCATION_BOUND_SECONDS = 10
/** A found instance, app or version is reused without a read at most this long (§3.3). */
export const FOUND_TTL_CAP_SECONDS = 5
/** A not-found instance, app or version lives at most this long (PROTOCOL §3.3). */
export const NOT_FOUND_TTL_CAP_SECONDS = 10
export const DEFAULT_MAX_CACHE_ENTRIES = 10_000
/**
 * What a node reloads ahead: an entry in use is reloaded in its last second (or last half,
 * for lifetimes under 2 s), so an active app costs about one extra read per lifetime at most.
 */
export const NODE_REFRESH_AHEAD_SECONDS = 1

/**
 * Wraps `reader` so that authorization reads hit the chain at most once per lifetime:
 * - found entries live `min(ttlSeconds, 5)`; "not found" (`undefined`: an unknown wallet,
 *   or a reverted `getApp`/`getVersion`) lives `min(ttlSeconds, 10)`;
 * - past its lifetime an entry is read again. If that read fails, the old answer is used
 *   only while it was read less than `REVOCATION_BOUND_SECONDS` ago; after that the error
 *   goes to the caller (503 `registry_unavailable`: fail closed);
 * - every age counts from the start of the read that produced the answer;
 * - errors are never cached; concurrent identical misses share one call;
 * - keys are canonical wallets, app ids and (appId, versionId) pairs.
 *
 * Why short lifetimes rather than watching the registry's status events (issue 12, M3):
 * - It fails closed by construction. The answer used is never older than the bound, and a
 *   read that does not happen denies. An event watcher fails open: a missed, dropped or
 *   unknown event (PROTOCOL §9.2 specifies the registry's views, not its events; the
 *   deployed NovaAppRegistry's may differ from the development one's) leaves a revoked app
 *   in for a whole long TTL, and the watcher's own freshness would need the same bound.
 * - workerd has no timer between requests, so a poller would run on the request path
 *   anyway, and so cost what a lifetime costs.
 * - The cost is bounded and independent of request rate: per node, each key in use is read
 *   at most once per 5 s. An active app instance costs at most 3 reads (instance, app,
 *   version; the last two are shared by the app's instances) per 5 s, 0.6 reads/s, against
 *   3 per 180 s before; per request that is 3 / (5 s × its request rate): measured on
 *   anvil at 0.034–0.043 reads per request at 17–14 requests/s, 0.59 reads/s
 *   (test/worker/revocation.test.ts).
 *
 * `getActiveInstances` passes straight through: it serves the peer cache (§7.2), which has
 * its own TTL, not authorization.
 * @throws (from reads) whatever `reader` throws, e.g. KmsError `registry_unavailable`.
 */
export function createCachedRegistry(reader: NovaAppRegistryReader, options: CreateCachedRegistryOptions): CachedRegistry {
  const { clock, ttlSeconds, maxEntries = DEFAULT_MAX_CACHE_ENTRIES, refreshAheadSeconds = 0 } = options
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) throw new RangeError('ttlSeconds: expected a number ≥ 0')
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries: expected an integer ≥ 1')
  if (!Number.isFinite(refreshAheadSeconds) || refreshAheadSeconds < 0) throw new RangeError('refreshAheadSeconds: expected a number ≥ 0')

  const foundMs = Math.min(ttlSeconds, FOUND_TTL_CAP_SECONDS) * 1000
  const notFoundMs = Math.min(ttlSeconds, NOT_FOUND_TTL_CAP_SECONDS) * 1000
  const lifetime = (value: unknown): number => (value === undefined ? notFoundMs : foundMs)
  const cacheOptions = { maxEntries, maxAgeMs: REVOCATION_BOUND_SECONDS * 1000, refreshAheadMs: refreshAheadSeconds * 1000 }
  const instances = new ReadThroughCache<InstanceRecord | undefined>(clock, cacheOptions)
  const apps = new ReadThroughCache<AppRecord | undefined>(clock, cacheOptions)
  const versions = new ReadThroughCache<VersionRecord | undefined>(clock, cacheOptions)

  return {
    getInstanceByWallet(wallet) {
      const key = requireWallet(wallet, 'wallet')
      return instances.read(key, () => reader.getInstanceByWallet(key), lifetime)
    },
    getApp(appId) {
      const key = requireId(appId, 'appId').toString()
      return apps.read(key, () => reader.getApp(appId), lifetime)
    },
    getVersion(appId, versionId) {
      const key = `${requireId(appId, 'appId')}:${requireId(versionId, 'versionId')}`
      return versions.read(key, () => reader.getVersion(appId, versionId), lifetime)
    },
    getActiveInstances(appId) {
      return reader.getActiveInstances(appId)
    },
    invalidate() {
      instances.clear()
      apps.clear()
      versions.clear()
    },
  }
}
