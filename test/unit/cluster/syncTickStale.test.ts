/**
 * `sync_tick` fails closed on a stale peer cache (PROTOCOL §7.4, M3): when the cache is
 * older than PEER_CACHE_TTL_SECONDS and the registry cannot be read, nothing is pushed to
 * anyone (a stopped peer may still be listed), and the watermarks stay where they were.
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../core/chain'
import { PeerCache, PeerWatermarks, runSyncTick, type Peer } from '../../../core/cluster'
import type { Wallet } from '../../../core/encoding'
import type { WireData } from '../../../core/store'
import { createLocalTee } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

const OWN: Wallet = '0x00000000000000000000000000000000000000a1'
const OTHER: Wallet = '0x00000000000000000000000000000000000000a2'

describe('sync_tick on a stale peer cache (§7.4)', () => {
  it('error: a refresh that fails leaves the cache stale, and no delta leaves the node; a later refresh resumes from the same watermark', async () => {
    const clock = new FakeClock(1_000_000)
    const key = await (await createLocalTee({ random: seededRandom(3) })).getEncryptionPublicKey()
    const record = (wallet: Wallet): InstanceRecord => ({
      instanceId: 1, appId: 49, versionId: 1, operator: wallet, instanceUrl: `http://${wallet}.test`, teePubkey: key, teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1,
    })
    let registryUp = true
    const peers = new PeerCache({
      registry: {
        getActiveInstances: async () => {
          if (!registryUp) throw new Error('rpc unreachable')
          return [OWN, OTHER]
        },
        getInstanceByWallet: async (wallet) => record(wallet),
        getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }),
      },
      kmsAppId: 49, mode: 'dev', clock, ttlSeconds: 180,
    })
    await peers.refresh()
    const pushed: { peer: Wallet; since: number }[] = []
    const watermarks = new PeerWatermarks()
    const delta: WireData = { '1000': [{ key: 'k', value: null, version: { [OWN]: 1 }, updated_at_ms: 1, tombstone: true, ttl_ms: 0 }] }
    const tick = () =>
      runSyncTick({
        readiness: { available: true },
        hasSyncKey: true,
        peers,
        store: { selectDelta: () => delta },
        client: { pushDelta: async (peer: Peer) => {
          pushed.push({ peer: peer.wallet, since: watermarks.since(peer.wallet) })
          return {}
        } },
        clock,
        ownWallet: OWN,
        watermarks,
        maxSyncPayloadBytes: 1_000_000,
        recordPush: () => undefined,
        log: () => undefined,
      })

    registryUp = false
    clock.advanceSeconds(180)
    expect(await tick()).toEqual({ pushed: 0, failed: 0, records: 0 })
    expect(pushed).toEqual([])
    expect(watermarks.since(OTHER)).toBe(0)

    registryUp = true
    expect(await tick()).toMatchObject({ pushed: 1, failed: 0 })
    expect(pushed).toEqual([{ peer: OTHER, since: 0 }])
  })
})
