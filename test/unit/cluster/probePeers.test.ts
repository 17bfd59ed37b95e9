import { describe, expect, it } from 'vitest'
import type { InstanceRecord } from '../../../core/chain'
import { PeerCache, probePeers } from '../../../core/cluster'
import { createLocalTee } from '../../../core/tee'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { DEV_CODE_MEASUREMENT } from '../../helpers/devMeasurement'

describe('status probes (PROTOCOL §7.2)', () => {
  it('behavior: each peer gets reachable, code and time; a dead one gets reachable=false, nulls', async () => {
    const clock = new FakeClock(1_000)
    const key = await (await createLocalTee({ random: seededRandom(3) })).getEncryptionPublicKey()
    const peerRecord = (wallet: `0x${string}`, url: string): InstanceRecord => ({
      instanceId: 1, appId: 49, versionId: 1, operator: wallet, instanceUrl: url, teePubkey: key, teeWalletAddress: wallet, zkVerified: true, status: 0, registeredAt: 1,
    })
    const records = new Map([
      ['0x00000000000000000000000000000000000000a1', peerRecord('0x00000000000000000000000000000000000000a1', 'https://up.example/')],
      ['0x00000000000000000000000000000000000000a2', peerRecord('0x00000000000000000000000000000000000000a2', 'https://down.example')],
    ] as const)
    const peers = new PeerCache({
      registry: { getActiveInstances: async () => [...records.keys()], getInstanceByWallet: async (wallet) => records.get(wallet as never), getVersion: async () => ({ status: 0, codeMeasurement: DEV_CODE_MEASUREMENT }) },
      kmsAppId: 49, mode: 'enclave', clock, ttlSeconds: 180,
    })
    await peers.refresh()
    const asked: string[] = []
    const fetch = (async (input: string) => {
      asked.push(input)
      clock.ms += 7
      if (input.startsWith('https://down.example')) throw new TypeError('connection refused')
      return new Response('{}', { status: 200 })
    }) as unknown as typeof globalThis.fetch
    await probePeers(peers, fetch, clock)
    expect(asked.sort()).toEqual(['https://down.example/status', 'https://up.example/status'])
    const [up, down] = peers.peers
    expect(up!.probe).toMatchObject({ reachable: true, httpCode: 200 })
    expect(up!.probe!.probeMs).toBeGreaterThanOrEqual(7)
    expect(down!.probe).toMatchObject({ reachable: false, httpCode: null, probeMs: null })
  })
})
