/**
 * The app developer's client (issue 17): the runtime-like client (discovery from
 * NovaAppRegistry, failover rounds, replay and binding checks) with the SDK's defaults,
 * which are stricter than the runtime's: request/response binding v2 (PROTOCOL §3.5), and
 * every node verified by its Nitro attestation against the pinned AWS root before any
 * request is sent to it (`/status` is never trusted for identity). A dev root must be passed
 * explicitly, and only then are debug documents accepted.
 */
import { createRuntimeKmsClient, type CreateRuntimeKmsClientParameters, type RuntimeKmsConnection } from './createRuntimeKmsClient'
import type { NodeAttestationPolicy } from './verifyNodeAttestation'

export interface CreateNovaKmsClientParameters extends Omit<CreateRuntimeKmsClientParameters, 'bindingVersion' | 'attestation'> {
  /** The registry reader must offer `getVersion`: the enrolled measurement each document must carry. */
  registry: CreateRuntimeKmsClientParameters['registry'] & Required<Pick<CreateRuntimeKmsClientParameters['registry'], 'getVersion'>>
  /** Omitted: production's policy, the AWS root and no debug documents. */
  attestation?: NodeAttestationPolicy
}

/** Builds the client; nothing touches the network until a call. */
export function createNovaKmsClient(parameters: CreateNovaKmsClientParameters): RuntimeKmsConnection {
  return createRuntimeKmsClient({ ...parameters, bindingVersion: 2, attestation: parameters.attestation ?? {} })
}
