/**
 * Who may receive a master secret (PROTOCOL §7.7): the requester as the registry says it is
 * now. A version REVOKED or DEPRECATED gets nothing, and an
 * unreadable chain refuses rather than guesses.
 */
import { describe, expect, it } from 'vitest'
import type { InstanceRecord, VersionRecord } from '../../../core/chain'
import { checkSecretRecipient } from '../../../core/cluster'
import { KmsError } from '../../../core/errors'
import type { Wallet } from '../../../core/encoding'

const WALLET = '0x00000000000000000000000000000000000000aa' as Wallet

function registry(instance: Partial<InstanceRecord> | undefined, versionStatus: number | undefined | 'down') {
  return {
    getInstanceByWallet: async (): Promise<InstanceRecord | undefined> => {
      if (versionStatus === 'down') throw new KmsError('registry_unavailable', 'registry unavailable')
      if (instance === undefined) return undefined
      return { instanceId: 1, appId: 49, versionId: 3, operator: WALLET, instanceUrl: 'http://x', teePubkey: new Uint8Array(), teeWalletAddress: WALLET, zkVerified: true, status: 0, registeredAt: 1, ...instance }
    },
    getVersion: async (): Promise<VersionRecord | undefined> =>
      versionStatus === undefined || versionStatus === 'down'
        ? undefined
        : { versionId: 3, versionName: 'v', codeMeasurement: new Uint8Array(32), imageUri: '', auditUrl: '', auditHash: '', githubRunId: '', status: versionStatus, enrolledAt: 1, enrolledBy: WALLET },
  }
}

const check = (reg: ReturnType<typeof registry>, epoch: number) => checkSecretRecipient({ registry: reg, wallet: WALLET, kmsAppId: 49, epoch })

describe('checkSecretRecipient (PROTOCOL §7.7)', () => {
  it('behavior: an ACTIVE, zkVerified KMS instance on an ENROLLED version may receive any epoch', async () => {
    await expect(check(registry({}, 0), 0)).resolves.toBeUndefined()
    await expect(check(registry({}, 0), 3)).resolves.toBeUndefined()
  })

  it('error: a DEPRECATED version receives no secret, of any epoch (as §4.5 already demands of a requester)', async () => {
    await expect(check(registry({}, 1), 0)).rejects.toMatchObject({ code: 'forbidden', details: 'version status 1 may not receive epoch 0' })
    await expect(check(registry({}, 1), 1)).rejects.toMatchObject({ code: 'forbidden', details: 'version status 1 may not receive epoch 1' })
  })

  it('error: a REVOKED version receives nothing, not even epoch 0', async () => {
    await expect(check(registry({}, 2), 0)).rejects.toMatchObject({ code: 'forbidden', status: 403 })
    await expect(check(registry({}, 2), 1)).rejects.toMatchObject({ code: 'forbidden' })
  })

  it('error: an unregistered, stopped, unverified or foreign instance is refused, each naming its rule', async () => {
    await expect(check(registry(undefined, 0), 1)).rejects.toMatchObject({ details: 'not a registered instance' })
    await expect(check(registry({ status: 1 }, 0), 1)).rejects.toMatchObject({ details: 'instance not ACTIVE' })
    await expect(check(registry({ zkVerified: false }, 0), 1)).rejects.toMatchObject({ details: 'instance not zkVerified' })
    await expect(check(registry({ appId: 50 }, 0), 1)).rejects.toMatchObject({ details: 'instance of another app' })
    await expect(check(registry({}, undefined), 1)).rejects.toMatchObject({ details: 'version not found' })
  })

  it('error: an unreadable chain fails closed with 503 registry_unavailable', async () => {
    await expect(check(registry({}, 'down'), 1)).rejects.toMatchObject({ code: 'registry_unavailable', status: 503 })
  })
})
