/**
 * Who may receive a master secret (PROTOCOL §7.7 "Who gets a new epoch"): the requester as the
 * registry says it is now, not as the peer cache remembers it. A version REVOKED since the
 * cache was filled must not be sealed a secret in the seconds before the cache expires, and
 * a rotation exists precisely to leave such versions behind.
 */
import { INSTANCE_STATUS, VERSION_STATUS, type NovaAppRegistryReader } from '../chain/types'
import type { Wallet } from '../encoding'
import { KmsError } from '../errors'

export interface SecretRecipientCheck {
  /** The uncached reader: every answer is the chain's now. */
  registry: Pick<NovaAppRegistryReader, 'getInstanceByWallet' | 'getVersion'>
  wallet: Wallet
  kmsAppId: number
  /** The epoch asked for, named in refusals. */
  epoch: number
}

function ineligible(details: string): KmsError {
  return new KmsError('forbidden', 'requester may not receive this master secret', { details })
}

/**
 * Resolves when `wallet` is an ACTIVE, zkVerified KMS instance on an ENROLLED version.
 * @throws KmsError 403 `forbidden` naming the failed rule; 503 `registry_unavailable` when the
 *   chain cannot be read (fail closed: no secret on a guess).
 */
export async function checkSecretRecipient({ registry, wallet, kmsAppId, epoch }: SecretRecipientCheck): Promise<void> {
  const instance = await registry.getInstanceByWallet(wallet)
  if (instance === undefined) throw ineligible('not a registered instance')
  if (instance.status !== INSTANCE_STATUS.ACTIVE) throw ineligible('instance not ACTIVE')
  if (!instance.zkVerified) throw ineligible('instance not zkVerified')
  if (instance.appId !== kmsAppId) throw ineligible('instance of another app')
  const version = await registry.getVersion(instance.appId, instance.versionId)
  if (version === undefined) throw ineligible('version not found')
  // ENROLLED only, for every epoch: the requester's attestation check (§4.5) already demands
  // it, and this read makes it hold at the moment of sealing, not as the peer cache remembers.
  if (version.status !== VERSION_STATUS.ENROLLED) throw ineligible(`version status ${version.status} may not receive epoch ${epoch}`)
}
