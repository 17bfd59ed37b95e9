/** RUNTIME.md §1 "Discovery": which registry instances the runtime's client keeps, and in what order. */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord, NovaAppRegistryReader } from '../../../core/chain'
import { discoverKmsNodes, KmsRegistryUnavailableError, withDefaultScheme } from '../../../core/client'
import type { Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'

const KMS_APP_ID = 49
const wallet = (digit: string): Wallet => `0x${digit.repeat(40)}`

function instance(overrides: Partial<InstanceRecord> & { teeWalletAddress: Wallet }): InstanceRecord {
  return {
    instanceId: 1,
    appId: KMS_APP_ID,
    versionId: 1,
    operator: wallet('0'),
    instanceUrl: 'http://127.0.0.1:9000',
    teePubkey: Uint8Array.of(1, 2, 3),
    zkVerified: true,
    status: 0,
    registeredAt: 0,
    ...overrides,
  }
}

function registry(instances: InstanceRecord[]): Pick<NovaAppRegistryReader, 'getActiveInstances' | 'getInstanceByWallet'> {
  return {
    getActiveInstances: async () => instances.map((entry) => entry.teeWalletAddress),
    getInstanceByWallet: async (target) => instances.find((entry) => entry.teeWalletAddress === target),
  }
}

describe('discoverKmsNodes', () => {
  it('behavior: keeps only ACTIVE, zkVerified KMS instances with a teePubkey, sorted by URL', async () => {
    const nodes = await discoverKmsNodes({
      kmsAppId: KMS_APP_ID,
      registry: registry([
        instance({ teeWalletAddress: wallet('1'), instanceUrl: 'http://c.example' }),
        instance({ teeWalletAddress: wallet('2'), instanceUrl: 'http://a.example' }),
        instance({ teeWalletAddress: wallet('3'), instanceUrl: 'http://other-app', appId: 50 }),
        instance({ teeWalletAddress: wallet('4'), instanceUrl: 'http://stopped', status: 1 }),
        instance({ teeWalletAddress: wallet('5'), instanceUrl: 'http://unverified', zkVerified: false }),
        instance({ teeWalletAddress: wallet('6'), instanceUrl: 'http://no-key', teePubkey: new Uint8Array(0) }),
        instance({ teeWalletAddress: wallet('7'), instanceUrl: 'http://b.example' }),
      ]),
    })
    expect(nodes.map((node) => [node.url, node.wallet])).toEqual([
      ['http://a.example', wallet('2')],
      ['http://b.example', wallet('7')],
      ['http://c.example', wallet('1')],
    ])
  })

  it('behavior: an instance URL without a scheme gets https://, and sorts as such', async () => {
    const nodes = await discoverKmsNodes({
      kmsAppId: KMS_APP_ID,
      registry: registry([
        instance({ teeWalletAddress: wallet('1'), instanceUrl: 'kms1.example.com:8000' }),
        instance({ teeWalletAddress: wallet('2'), instanceUrl: 'http://kms2.example.com' }),
      ]),
    })
    expect(nodes.map((node) => node.url)).toEqual(['http://kms2.example.com', 'https://kms1.example.com:8000'])
    expect(withDefaultScheme('HTTP://x')).toBe('HTTP://x')
    expect(withDefaultScheme('10.0.0.1:443')).toBe('https://10.0.0.1:443')
  })

  it('behavior: a wallet the registry no longer resolves is skipped', async () => {
    const known = instance({ teeWalletAddress: wallet('1') })
    const nodes = await discoverKmsNodes({
      kmsAppId: KMS_APP_ID,
      registry: { getActiveInstances: async () => [wallet('1'), wallet('9')], getInstanceByWallet: async (target) => (target === wallet('1') ? known : undefined) },
    })
    expect(nodes).toHaveLength(1)
  })

  it('error: a registry transport failure is KmsRegistryUnavailableError (transient)', async () => {
    const failing = {
      getActiveInstances: async () => {
        throw new KmsError('registry_unavailable', 'Registry unavailable')
      },
      getInstanceByWallet: async () => undefined,
    }
    const error = await discoverKmsNodes({ kmsAppId: KMS_APP_ID, registry: failing }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsRegistryUnavailableError)
    expect((error as KmsRegistryUnavailableError).transient).toBe(true)
  })
})
