/** The read-through NovaAppRegistry cache of PROTOCOL §3.3 ("Caching"). */
import type { Clock } from '../runtime'
import { requireId, requireWallet } from './_arguments'
import { ReadThroughCache } from './_readThroughCache'
import type { AppRecord, InstanceRecord, NovaAppRegistryReader, VersionRecord } from './types'

export interface CreateCachedRegistryOptions {
  clock: Clock
  /** `REGISTRY_CACHE_TTL_SECONDS` (PROTOCOL §11): how long a found entry lives. */
  ttlSeconds: number
  /** Entries kept per kind (instances, apps, versions); the oldest goes first. */
  maxEntries?: number
}

export interface CachedRegistry extends NovaAppRegistryReader {
  /** Drops every entry; reads already under way do not repopulate the cache. */
  invalidate(): void
}

/** A not-found instance, app or version lives at most this long (PROTOCOL §3.3). */
export const NOT_FOUND_TTL_CAP_SECONDS = 10
export const DEFAULT_MAX_CACHE_ENTRIES = 10_000

/**
 * Wraps `reader` so that authorization reads hit the chain at most once per TTL:
 * - found entries live `ttlSeconds`; "not found" (`undefined`: an unknown wallet, or a
 *   reverted `getApp`/`getVersion`) lives `min(ttlSeconds, 10)`;
 * - errors are never cached; concurrent identical misses share one call;
 * - keys are canonical wallets, app ids and (appId, versionId) pairs.
 *
 * `getActiveInstances` passes straight through: it serves the peer cache (§7.2), which has
 * its own TTL, not authorization.
 * @throws (from reads) whatever `reader` throws, e.g. KmsError `registry_unavailable`.
 */
export function createCachedRegistry(reader: NovaAppRegistryReader, options: CreateCachedRegistryOptions): CachedRegistry {
  const { clock, ttlSeconds, maxEntries = DEFAULT_MAX_CACHE_ENTRIES } = options
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) throw new RangeError('ttlSeconds: expected a number ≥ 0')
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries: expected an integer ≥ 1')

  const foundMs = ttlSeconds * 1000
  const notFoundMs = Math.min(ttlSeconds, NOT_FOUND_TTL_CAP_SECONDS) * 1000
  const lifetime = (value: unknown): number => (value === undefined ? notFoundMs : foundMs)
  const instances = new ReadThroughCache<InstanceRecord | undefined>(clock, maxEntries)
  const apps = new ReadThroughCache<AppRecord | undefined>(clock, maxEntries)
  const versions = new ReadThroughCache<VersionRecord | undefined>(clock, maxEntries)

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
