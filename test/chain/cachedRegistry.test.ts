/**
 * The read-through cache of PROTOCOL §3.3 over the real reader and contracts, with an
 * injected clock: found entries live min(TTL, 5) s, not-found entries min(TTL, 10) s, ages
 * count from the start of the read, a failed re-read falls back to the old answer only while
 * it is younger than 10 s (then fails closed), errors are never cached, and identical
 * concurrent misses share one chain call.
 */
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest'
import { generatePrivateKey, privateKeyToAddress } from 'viem/accounts'
import {
  FOUND_TTL_CAP_SECONDS,
  REVOCATION_BOUND_SECONDS,
  createCachedRegistry,
  createChainReaders,
  type CachedRegistry,
  type NovaAppRegistryReader,
} from '../../core/chain'
import type { Wallet } from '../../core/encoding'
import { KmsError } from '../../core/errors'
import { FakeClock } from '../helpers/fakeClock'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { closedPortUrl } from './_doubles'

/** The `REGISTRY_CACHE_TTL_SECONDS` default: found entries are capped at 5 s whatever it says. */
const TTL_SECONDS = 180
let chain: DevChain
let live: NovaAppRegistryReader
let dead: NovaAppRegistryReader

/** Counts the chain calls that reach `target`; `use` swaps the target mid-test. */
function countingReader(initial: NovaAppRegistryReader) {
  let target = initial
  const calls = { count: 0 }
  const counted: NovaAppRegistryReader = {
    getInstanceByWallet: (wallet) => (calls.count++, target.getInstanceByWallet(wallet)),
    getApp: (appId) => (calls.count++, target.getApp(appId)),
    getVersion: (appId, versionId) => (calls.count++, target.getVersion(appId, versionId)),
    getActiveInstances: (appId) => (calls.count++, target.getActiveInstances(appId)),
  }
  return { reader: counted, calls, use: (next: NovaAppRegistryReader) => void (target = next) }
}

function newWallet(): Wallet {
  return privateKeyToAddress(generatePrivateKey()).toLowerCase() as Wallet
}

let clock: FakeClock
let counting: ReturnType<typeof countingReader>
let cache: CachedRegistry

beforeAll(async () => {
  chain = await startDevChain()
  const addresses = { novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry }
  live = createChainReaders({ rpcUrl: chain.rpcUrl, ...addresses }).novaAppRegistry
  dead = createChainReaders({ rpcUrl: await closedPortUrl(), ...addresses }).novaAppRegistry
})

afterAll(() => chain?.stop())

beforeEach(() => {
  clock = new FakeClock(1_700_000_000_000)
  counting = countingReader(live)
  cache = createCachedRegistry(counting.reader, { clock, ttlSeconds: TTL_SECONDS })
})

test('behavior: a found instance is served from cache for min(TTL, 5) s, so a revocation shows within 5 s', async () => {
  expect(FOUND_TTL_CAP_SECONDS).toBe(5)
  const wallet = newWallet()
  const instanceId = await chain.registerInstance({ teeWalletAddress: wallet })
  expect((await cache.getInstanceByWallet(wallet))?.status).toBe(0)
  await chain.setInstanceStatus(instanceId, 1)

  clock.advanceSeconds(4.999)
  expect((await cache.getInstanceByWallet(wallet))?.status).toBe(0)
  expect(counting.calls.count).toBe(1)

  clock.advanceSeconds(0.001)
  expect((await cache.getInstanceByWallet(wallet))?.status).toBe(1)
  expect(counting.calls.count).toBe(2)
})

test('behavior: with a TTL under 5 s, found entries live the TTL', async () => {
  const short = createCachedRegistry(counting.reader, { clock, ttlSeconds: 2 })
  await short.getApp(49)
  clock.advanceSeconds(1.999)
  await short.getApp(49)
  expect(counting.calls.count).toBe(1)
  clock.advanceSeconds(0.001)
  await short.getApp(49)
  expect(counting.calls.count).toBe(2)
})

test('behavior: a not-found instance lives min(TTL, 10) s', async () => {
  const wallet = newWallet()
  expect(await cache.getInstanceByWallet(wallet)).toBeUndefined()
  await chain.registerInstance({ teeWalletAddress: wallet })

  clock.advanceSeconds(9.999)
  expect(await cache.getInstanceByWallet(wallet)).toBeUndefined()
  clock.advanceSeconds(0.001)
  expect(await cache.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  expect(counting.calls.count).toBe(2)
})

test('behavior: with a TTL under 10 s, not-found entries live the TTL', async () => {
  const short = createCachedRegistry(counting.reader, { clock, ttlSeconds: 3 })
  const wallet = newWallet()
  expect(await short.getInstanceByWallet(wallet)).toBeUndefined()
  clock.advanceSeconds(2.9)
  expect(await short.getInstanceByWallet(wallet)).toBeUndefined()
  expect(counting.calls.count).toBe(1)
  clock.advanceSeconds(0.1)
  expect(await short.getInstanceByWallet(wallet)).toBeUndefined()
  expect(counting.calls.count).toBe(2)
})

test('behavior: a reverted getApp or getVersion is cached like a not-found instance', async () => {
  expect(await cache.getApp(77)).toBeUndefined()
  expect(await cache.getVersion(77, 1)).toBeUndefined()
  await chain.registerApp({
    appId: 77,
    appOwner: chain.addresses.owner,
    dappContract: '0x0000000000000000000000000000000000000000',
    teeArch: `0x${'00'.repeat(32)}`,
    metadataUri: '',
    appWallet: '0x0000000000000000000000000000000000000000',
  })
  await chain.enrollVersion({ appId: 77, versionId: 1, versionName: 'v1', codeMeasurement: `0x${'11'.repeat(32)}`, imageUri: '' })

  clock.advanceSeconds(9)
  expect(await cache.getApp(77)).toBeUndefined()
  expect(await cache.getVersion(77, 1)).toBeUndefined()
  clock.advanceSeconds(1)
  expect((await cache.getApp(77))?.appId).toBe(77)
  expect((await cache.getVersion(77, 1))?.versionName).toBe('v1')
  expect(counting.calls.count).toBe(4)
})

test('behavior: found apps and versions live the TTL, keyed by id and (appId, versionId)', async () => {
  await cache.getApp(49)
  await cache.getVersion(49, 1)
  await cache.getApp(49)
  await cache.getVersion(49, 1)
  expect(counting.calls.count).toBe(2)
  expect(await cache.getVersion(49, 2)).toBeUndefined() // another key
  expect(counting.calls.count).toBe(3)
  clock.advanceSeconds(FOUND_TTL_CAP_SECONDS)
  await cache.getApp(49)
  expect(counting.calls.count).toBe(4)
})

test('error: errors are never cached', async () => {
  const wallet = newWallet()
  await chain.registerInstance({ teeWalletAddress: wallet })
  counting.use(dead)
  const failure = await cache.getInstanceByWallet(wallet).catch((error: unknown) => error)
  expect(failure).toBeInstanceOf(KmsError)
  expect((failure as KmsError).code).toBe('registry_unavailable')

  counting.use(live)
  expect(await cache.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  expect(counting.calls.count).toBe(2)
})

test('behavior: a failed re-read serves the old answer while it is younger than 10 s, then fails closed', async () => {
  expect(REVOCATION_BOUND_SECONDS).toBe(10)
  const wallet = newWallet()
  await chain.registerInstance({ teeWalletAddress: wallet })
  expect(await cache.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  counting.use(dead)

  clock.advanceSeconds(5) // stale: re-read, which fails, so the 5 s old answer is used
  expect(await cache.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  clock.advanceSeconds(4.999)
  const concurrent = await Promise.all([cache.getInstanceByWallet(wallet), cache.getInstanceByWallet(wallet)])
  expect(concurrent.map((instance) => instance?.teeWalletAddress)).toEqual([wallet, wallet])
  expect(counting.calls.count).toBe(3) // every stale read tries the chain; concurrent ones share

  clock.advanceSeconds(0.001) // read 10 s ago: never used again
  const failure = await cache.getInstanceByWallet(wallet).catch((error: unknown) => error)
  expect(failure).toBeInstanceOf(KmsError)
  expect((failure as KmsError).code).toBe('registry_unavailable')
  clock.advanceSeconds(-5) // nor once the clock has been set back
  expect(await cache.getInstanceByWallet(wallet).catch((error: unknown) => (error as KmsError).code)).toBe('registry_unavailable')

  counting.use(live)
  expect(await cache.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
})

test('behavior: an answer is as old as the start of its read: a slow read is not kept longer', async () => {
  const wallet = newWallet()
  await chain.registerInstance({ teeWalletAddress: wallet })
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (release = resolve))
  const slow: NovaAppRegistryReader = { ...live, getInstanceByWallet: async (key) => (await gate, live.getInstanceByWallet(key)) }
  counting.use(slow)
  const pending = cache.getInstanceByWallet(wallet)
  clock.advanceSeconds(4) // the answer arrives 4 s after the read started
  release()
  expect(await pending).toMatchObject({ teeWalletAddress: wallet }) // the callers that waited get it
  counting.use(live)
  clock.advanceSeconds(0.999)
  await cache.getInstanceByWallet(wallet)
  expect(counting.calls.count).toBe(1)
  clock.advanceSeconds(0.001) // 5 s after the read started, 1 s after the answer
  await cache.getInstanceByWallet(wallet)
  expect(counting.calls.count).toBe(2)

  // An answer slower than the bound is handed to its callers but never cached, nor a fallback.
  const other = newWallet()
  await chain.registerInstance({ teeWalletAddress: other })
  let releaseLate: () => void = () => undefined
  const late = new Promise<void>((resolve) => (releaseLate = resolve))
  counting.use({ ...live, getInstanceByWallet: async (key) => (await late, live.getInstanceByWallet(key)) })
  const waiting = cache.getInstanceByWallet(other)
  clock.advanceSeconds(11)
  releaseLate()
  expect(await waiting).toMatchObject({ teeWalletAddress: other })
  counting.use(dead)
  expect(await cache.getInstanceByWallet(other).catch((error: unknown) => (error as KmsError).code)).toBe('registry_unavailable')
})

test('behavior: a clock set back does not make an entry fresh again', async () => {
  await cache.getApp(49)
  clock.advanceSeconds(-1)
  await cache.getApp(49)
  expect(counting.calls.count).toBe(2)
})

test('behavior: invalidate() also drops the fallbacks', async () => {
  await cache.getApp(49)
  cache.invalidate()
  counting.use(dead)
  expect(await cache.getApp(49).catch((error: unknown) => (error as KmsError).code)).toBe('registry_unavailable')
})

test('behavior: concurrent identical misses share one chain call', async () => {
  const wallet = newWallet()
  await chain.registerInstance({ teeWalletAddress: wallet })
  const spellings = [wallet, wallet.toUpperCase().replace('0X', '0x'), wallet.slice(2)] as Wallet[]
  const results = await Promise.all([...spellings, ...spellings].map((spelling) => cache.getInstanceByWallet(spelling)))
  expect(new Set(results.map((instance) => instance?.instanceId)).size).toBe(1)
  expect(counting.calls.count).toBe(1)
})

test('error: concurrent misses that fail all see the failure, and the next read retries', async () => {
  counting.use(dead)
  const wallet = newWallet()
  const outcomes = await Promise.allSettled([cache.getInstanceByWallet(wallet), cache.getInstanceByWallet(wallet)])
  expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected'])
  expect(counting.calls.count).toBe(1)
  counting.use(live)
  expect(await cache.getInstanceByWallet(wallet)).toBeUndefined()
  expect(counting.calls.count).toBe(2)
})

test('behavior: invalidate() drops every entry, and a read under way does not repopulate', async () => {
  await cache.getApp(49)
  cache.invalidate()
  await cache.getApp(49)
  expect(counting.calls.count).toBe(2)

  const underWay = cache.getVersion(49, 1)
  cache.invalidate()
  await underWay
  await cache.getVersion(49, 1)
  expect(counting.calls.count).toBe(4)
})

test('behavior: the cache is bounded; the oldest entry goes first', async () => {
  const small = createCachedRegistry(counting.reader, { clock, ttlSeconds: TTL_SECONDS, maxEntries: 2 })
  const [first, second, third] = [newWallet(), newWallet(), newWallet()]
  await small.getInstanceByWallet(first)
  await small.getInstanceByWallet(second)
  await small.getInstanceByWallet(third) // evicts `first`
  await small.getInstanceByWallet(third)
  await small.getInstanceByWallet(second)
  expect(counting.calls.count).toBe(3)
  await small.getInstanceByWallet(first)
  expect(counting.calls.count).toBe(4)
})

test('behavior: a TTL of 0 caches nothing', async () => {
  const uncached = createCachedRegistry(counting.reader, { clock, ttlSeconds: 0 })
  await uncached.getApp(49)
  await uncached.getApp(49)
  expect(counting.calls.count).toBe(2)
})

test('behavior: getActiveInstances is not cached (the peer cache has its own TTL)', async () => {
  await cache.getActiveInstances(49)
  await cache.getActiveInstances(49)
  expect(counting.calls.count).toBe(2)
})

test('behavior: refresh ahead: a read in the last second answers from the entry and reloads it in the background, so the read at expiry does not wait', async () => {
  const ahead = createCachedRegistry(counting.reader, { clock, ttlSeconds: TTL_SECONDS, refreshAheadSeconds: 1 })
  const wallet = newWallet()
  const instanceId = await chain.registerInstance({ teeWalletAddress: wallet })
  expect((await ahead.getInstanceByWallet(wallet))?.status).toBe(0)
  await chain.setInstanceStatus(instanceId, 1)

  clock.advanceSeconds(3.999) // more than a second left: no reload
  expect((await ahead.getInstanceByWallet(wallet))?.status).toBe(0)
  expect(counting.calls.count).toBe(1)

  clock.advanceSeconds(0.001) // one second left: the entry answers, and one reload starts
  const [first, second] = await Promise.all([ahead.getInstanceByWallet(wallet), ahead.getInstanceByWallet(wallet)])
  expect([first?.status, second?.status]).toEqual([0, 0])
  expect(counting.calls.count).toBe(2)

  // At the old expiry the reloaded answer (read at 4 s) is served, with no further chain call.
  clock.advanceSeconds(1)
  expect((await ahead.getInstanceByWallet(wallet))?.status).toBe(1)
  expect(counting.calls.count).toBe(2)
  // It is as old as the start of its read: fresh until 4 + 5 s, not longer.
  clock.advanceSeconds(3.999)
  expect((await ahead.getInstanceByWallet(wallet))?.status).toBe(1)
  expect(counting.calls.count).toBe(3) // the next refresh ahead
})

test('behavior: refresh ahead that fails changes nothing: the entry answers until its expiry, and the revocation bound still holds', async () => {
  const ahead = createCachedRegistry(counting.reader, { clock, ttlSeconds: TTL_SECONDS, refreshAheadSeconds: 1 })
  const wallet = newWallet()
  await chain.registerInstance({ teeWalletAddress: wallet })
  expect(await ahead.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  counting.use(dead)

  clock.advanceSeconds(4.5) // a background reload starts and fails; nobody sees its error
  expect(await ahead.getInstanceByWallet(wallet)).toMatchObject({ teeWalletAddress: wallet })
  expect(counting.calls.count).toBe(2)
  await new Promise((resolve) => setTimeout(resolve, 50))

  clock.advanceSeconds(5.5) // read 10 s ago: refused, as without refresh ahead
  const failure = await ahead.getInstanceByWallet(wallet).catch((error: unknown) => error)
  expect((failure as KmsError).code).toBe('registry_unavailable')
})

test('error: refreshAheadSeconds must be a number ≥ 0', () => {
  expect(() => createCachedRegistry(counting.reader, { clock, ttlSeconds: 5, refreshAheadSeconds: -1 })).toThrow(RangeError)
  expect(() => createCachedRegistry(counting.reader, { clock, ttlSeconds: 5, refreshAheadSeconds: Number.NaN })).toThrow(RangeError)
})
