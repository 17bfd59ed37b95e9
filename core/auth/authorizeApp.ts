/**
 * Registry authorization of an authenticated wallet (PROTOCOL §3.3). The app's identity is
 * always its registry entry, never a value carried in the request.
 */
import type { AppRecord, InstanceRecord, VersionRecord } from '../chain'
import { parseP384PublicKey } from '../crypto'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'

/** The registry reads authorization needs; `undefined` means "not found" (§3.3). */
export interface AppRegistryView {
  getInstanceByWallet(wallet: Wallet): Promise<InstanceRecord | undefined>
  getApp(appId: number): Promise<AppRecord | undefined>
  getVersion(appId: number, versionId: number): Promise<VersionRecord | undefined>
}

export interface AppIdentity {
  appId: number
  versionId: number
  instanceId: number
  wallet: Wallet
  instanceUrl: string
  /** The registry teePubkey, DER SPKI: responses are encrypted to it (§5.6). */
  teePubkeyDer: Uint8Array
  /** The version's `codeMeasurement`, for the attestation path (§3.2.2 step 5). */
  codeMeasurement: Uint8Array
}

const INSTANCE_ACTIVE = 0
const APP_ACTIVE = 0
const VERSION_ENROLLED = 0
const VERSION_DEPRECATED = 1
const VERSION_REVOKED = 2

function unauthorized(message: string): KmsError {
  return new KmsError('unauthorized', message)
}

/**
 * Authorizes `wallet` against NovaAppRegistry.
 * @throws KmsError 403 `unauthorized` (exact §3.3 messages), 503 `registry_unavailable`,
 *   400 `bad_request` when the instance has no usable teePubkey (step 7).
 */
export async function authorizeApp(wallet: Wallet, registry: AppRegistryView): Promise<AppIdentity> {
  const instance = await registry.getInstanceByWallet(wallet)
  if (instance === undefined || instance.instanceId === 0 || instance.teeWalletAddress !== wallet) {
    throw unauthorized('Instance not found')
  }
  if (instance.status !== INSTANCE_ACTIVE) throw unauthorized('Instance not active')
  if (!instance.zkVerified) throw unauthorized('Instance not zkVerified')

  // Both reads are made before either status is checked, as in (c); a transport failure in
  // either wins over the other's answer (step 5).
  const [app, version] = await Promise.allSettled([
    registry.getApp(instance.appId),
    registry.getVersion(instance.appId, instance.versionId),
  ])
  if (app.status === 'rejected') throw app.reason
  if (version.status === 'rejected') throw version.reason
  if (app.value === undefined || app.value.status !== APP_ACTIVE) throw unauthorized('App not active')
  const versionStatus = version.value?.status
  if (versionStatus === VERSION_REVOKED) throw unauthorized('Version revoked')
  if (version.value === undefined || (versionStatus !== VERSION_ENROLLED && versionStatus !== VERSION_DEPRECATED)) {
    throw unauthorized('Version not enrolled or deprecated')
  }

  const teePubkey = parseP384PublicKey(instance.teePubkey)
  if (teePubkey === undefined) throw new KmsError('bad_request', 'Receiver teePubkey required for response encryption')
  return {
    appId: instance.appId,
    versionId: instance.versionId,
    instanceId: instance.instanceId,
    wallet,
    instanceUrl: instance.instanceUrl,
    teePubkeyDer: teePubkey.der,
    codeMeasurement: version.value.codeMeasurement,
  }
}
