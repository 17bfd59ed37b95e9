/** RUNTIME.md §1 "Its own authorization": the runtime checks its own instance first. */
import { describe, expect, it } from 'vitest'
import type { AppRecord, InstanceRecord, NovaAppRegistryReader } from '../../../core/chain'
import { authorizeRuntimeInstance, KmsInstanceNotAuthorizedError, KmsRegistryUnavailableError } from '../../../core/client'
import type { Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'

const self: Wallet = `0x${'11'.repeat(20)}`
const anchor: Wallet = `0x${'22'.repeat(20)}`

function reader(instance: Partial<InstanceRecord> | undefined, app: Partial<AppRecord> | null = {}): Pick<NovaAppRegistryReader, 'getInstanceByWallet' | 'getApp'> {
  return {
    getInstanceByWallet: async () =>
      instance === undefined
        ? undefined
        : ({ instanceId: 5, appId: 1000, versionId: 1, status: 0, zkVerified: true, teeWalletAddress: self, ...instance } as InstanceRecord),
    getApp: async () => (app === null ? undefined : ({ appId: 1000, status: 0, appWallet: anchor, ...app } as AppRecord)),
  }
}

async function reason(registry: ReturnType<typeof reader>): Promise<string> {
  const error = await authorizeRuntimeInstance({ registry, wallet: self, appId: 1000 }).catch((caught: unknown) => caught)
  expect(error).toBeInstanceOf(KmsInstanceNotAuthorizedError)
  expect((error as KmsInstanceNotAuthorizedError).transient).toBe(true)
  return (error as KmsInstanceNotAuthorizedError).reason
}

describe('authorizeRuntimeInstance', () => {
  it('behavior: an ACTIVE, zkVerified instance of an ACTIVE app is authorized, anchored to the registry app wallet', async () => {
    expect(await authorizeRuntimeInstance({ registry: reader({}), wallet: self, appId: 1000 })).toEqual({ appId: 1000, instanceId: 5, registryAppWallet: anchor })
  })

  it('error: each rule has its reason', async () => {
    expect(await reason(reader(undefined))).toBe('instance not registered')
    expect(await reason(reader({ appId: 1001 }))).toBe('instance belongs to app 1001')
    expect(await reason(reader({ status: 1 }))).toBe('instance not active')
    expect(await reason(reader({ zkVerified: false }))).toBe('instance not zkVerified')
    expect(await reason(reader({}, { status: 1 }))).toBe('app not active')
    expect(await reason(reader({}, null))).toBe('app not active')
  })

  it('error: a registry transport failure is KmsRegistryUnavailableError', async () => {
    const registry = {
      getInstanceByWallet: async () => {
        throw new KmsError('registry_unavailable', 'Registry unavailable')
      },
      getApp: async () => undefined,
    }
    await expect(authorizeRuntimeInstance({ registry, wallet: self, appId: 1000 })).rejects.toBeInstanceOf(KmsRegistryUnavailableError)
  })
})
