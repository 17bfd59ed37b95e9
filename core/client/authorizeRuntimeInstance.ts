/**
 * The runtime's check of its own instance before any KMS call (RUNTIME.md §1 "Its own
 * authorization"): a node would refuse an unregistered or inactive instance anyway, but the
 * runtime refuses first, without spending a round over the nodes.
 */
import { APP_STATUS, INSTANCE_STATUS, type NovaAppRegistryReader } from '../chain/types'
import type { Wallet } from '../encoding'
import { isKmsError } from '../errors'
import { KmsInstanceNotAuthorizedError, KmsRegistryUnavailableError } from './runtimeErrors'

export interface RuntimeInstanceAuthorization {
  readonly appId: number
  readonly instanceId: number
  /** `getApp(appId).appWallet`, the registry's anchor for the app wallet. */
  readonly registryAppWallet: Wallet
}

export interface AuthorizeRuntimeInstanceParameters {
  registry: Pick<NovaAppRegistryReader, 'getInstanceByWallet' | 'getApp'>
  /** The instance's own TEE wallet. */
  wallet: Wallet
  /** The app this runtime serves; its instance must belong to it. */
  appId: number
}

/**
 * Requires the instance to be registered for `appId`, ACTIVE and zkVerified, and its app
 * ACTIVE.
 * @throws KmsInstanceNotAuthorizedError naming the failed rule.
 * @throws KmsRegistryUnavailableError when a registry read fails.
 */
export async function authorizeRuntimeInstance({ registry, wallet, appId }: AuthorizeRuntimeInstanceParameters): Promise<RuntimeInstanceAuthorization> {
  try {
    const instance = await registry.getInstanceByWallet(wallet)
    if (instance === undefined) throw new KmsInstanceNotAuthorizedError('instance not registered')
    if (instance.appId !== appId) throw new KmsInstanceNotAuthorizedError(`instance belongs to app ${instance.appId}`)
    if (instance.status !== INSTANCE_STATUS.ACTIVE) throw new KmsInstanceNotAuthorizedError('instance not active')
    if (!instance.zkVerified) throw new KmsInstanceNotAuthorizedError('instance not zkVerified')
    const app = await registry.getApp(appId)
    if (app === undefined || app.status !== APP_STATUS.ACTIVE) throw new KmsInstanceNotAuthorizedError('app not active')
    return { appId, instanceId: instance.instanceId, registryAppWallet: app.appWallet }
  } catch (error) {
    if (isKmsError(error) && error.code === 'registry_unavailable') throw new KmsRegistryUnavailableError({ cause: error })
    throw error
  }
}
