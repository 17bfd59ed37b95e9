/**
 * The app developer's client (issue 17): the runtime-like client (discovery from
 * NovaAppRegistry, failover rounds, replay and binding checks) with the SDK's defaults,
 * which are stricter than the runtime's: request/response binding v2 (PROTOCOL §3.5), and
 * every node verified by its Nitro attestation against the pinned AWS root before any
 * request is sent to it (`/status` is never trusted for identity). A dev root must be passed
 * explicitly, and only then are debug documents accepted.
 */
import type { AppKeyOptions } from './_appKeys'
import { createRuntimeKmsClient, type CreateRuntimeKmsClientBaseParameters, type RuntimeKmsConnection } from './createRuntimeKmsClient'
import type { NodeAttestationPolicy } from './verifyNodeAttestation'

export interface CreateNovaKmsClientBaseParameters extends Omit<CreateRuntimeKmsClientBaseParameters, 'bindingVersion' | 'attestation'> {
  /** The registry reader must offer `getVersion`: the enrolled measurement each document must carry. */
  registry: CreateRuntimeKmsClientBaseParameters['registry'] & Required<Pick<CreateRuntimeKmsClientBaseParameters['registry'], 'getVersion'>>
  /** Omitted: production's policy, the AWS root and no debug documents. */
  attestation?: NodeAttestationPolicy
}

/**
 * The wiring, and the app's keys: `signer` (a viem `LocalAccount`, `runtimeSigner`) or the
 * raw `walletKey`, and `envelopeKey` (`webCryptoEnvelopeKey`, `runtimeEnvelopeKey`) or the
 * in-memory `teeKey`, exactly one of each.
 */
export type CreateNovaKmsClientParameters = CreateNovaKmsClientBaseParameters & AppKeyOptions

/**
 * Builds the client; nothing touches the network until a call.
 * @throws TypeError unless exactly one of `signer`/`walletKey` and of `envelopeKey`/`teeKey` is given.
 */
export function createNovaKmsClient(parameters: CreateNovaKmsClientParameters): RuntimeKmsConnection {
  return createRuntimeKmsClient({ ...parameters, bindingVersion: 2, attestation: parameters.attestation ?? {} })
}
