/** Wires the runtime-like client to NovaAppRegistry: discovery, the node directory, authorization. */
import type { Sleep } from '../cluster'
import type { NovaAppRegistryReader } from '../chain'
import type { Clock, Random } from '../runtime'
import type { FetchFunction } from './_timedFetch'
import { resolveAppKeys, type AppKeyOptions } from './_appKeys'
import { authorizeRuntimeInstance } from './authorizeRuntimeInstance'
import { discoverKmsNodes } from './discoverKmsNodes'
import { NodeDirectory, type NodeDirectoryOptions } from './nodeDirectory'
import { checkNodeAttestationPolicy, verifyNodeAttestation, type NodeAttestationPolicy } from './verifyNodeAttestation'
import { RuntimeKmsClient } from './runtimeKmsClient'

export interface CreateRuntimeKmsClientBaseParameters {
  registry: Pick<NovaAppRegistryReader, 'getActiveInstances' | 'getInstanceByWallet' | 'getApp'> & Partial<Pick<NovaAppRegistryReader, 'getVersion'>>
  /** The KMS app's id in the registry (`kms_integration.kms_app_id`). */
  kmsAppId: number
  /** The app this runtime serves. */
  appId: number
  clock: Clock
  random: Random
  sleep: Sleep
  fetch?: FetchFunction
  /** PROTOCOL §3.5; 1 (the real runtime's protocol) by default. */
  bindingVersion?: 1 | 2
  /**
   * Verify each node's Nitro document (`verifyNodeAttestation`) instead of trusting its
   * `/status` for identity, as the SDK should; the registry must then offer `getVersion`.
   * Omitted: the runtime's `/status` check (RUNTIME.md §1), which the runtime itself does.
   */
  attestation?: NodeAttestationPolicy
}

/** The wiring, and the instance's keys: a signer (or `walletKey`) and an envelope key (or `teeKey`), one of each. */
export type CreateRuntimeKmsClientParameters = CreateRuntimeKmsClientBaseParameters & AppKeyOptions

export interface RuntimeKmsConnection {
  client: RuntimeKmsClient
  /** Its node directory: the caller runs `refresh()` every `BACKGROUND_REFRESH_MS`. */
  directory: NodeDirectory
}

function attestationCheck(
  registry: CreateRuntimeKmsClientBaseParameters['registry'],
  context: { kmsAppId: number; clock: Clock; random: Random; policy: NodeAttestationPolicy },
): NonNullable<NodeDirectoryOptions['checkIdentity']> {
  const { getVersion } = registry
  if (getVersion === undefined) throw new TypeError('attestation: the registry reader must offer getVersion (the enrolled measurement)')
  checkNodeAttestationPolicy(context.policy)
  const reader = { getInstanceByWallet: registry.getInstanceByWallet.bind(registry), getVersion: getVersion.bind(registry) }
  return (node, fetch) => verifyNodeAttestation({ node, registry: reader, fetch, ...context })
}

/**
 * Builds the client; nothing touches the network until a call.
 * @throws TypeError unless exactly one of `signer`/`walletKey` and of `envelopeKey`/`teeKey` is given.
 */
export function createRuntimeKmsClient(parameters: CreateRuntimeKmsClientParameters): RuntimeKmsConnection {
  const { registry, kmsAppId, appId, clock, random, sleep, fetch, bindingVersion, attestation } = parameters
  const { signer, wallet, envelopeKey } = resolveAppKeys(parameters, random)
  const directory = new NodeDirectory({
    discover: () => discoverKmsNodes({ registry, kmsAppId }),
    clock,
    ...(fetch === undefined ? {} : { fetch }),
    ...(attestation === undefined ? {} : { checkIdentity: attestationCheck(registry, { kmsAppId, clock, random, policy: attestation }) }),
  })
  const client = new RuntimeKmsClient({
    directory,
    signer,
    envelopeKey,
    clock,
    random,
    sleep,
    ...(fetch === undefined ? {} : { fetch }),
    ...(bindingVersion === undefined ? {} : { bindingVersion }),
    authorize: () => authorizeRuntimeInstance({ registry, wallet, appId }),
  })
  return { client, directory }
}
