/**
 * `core/client`: the app-side SDK. PoP signing, envelopes, and verification of every answer
 * against the node's registry identity (PROTOCOL §3.1.1, §3.4, §5.6). Around it, a client
 * that behaves like the Nova runtime's own (RUNTIME.md §1): registry discovery, the `/status`
 * identity binding with the runtime's caches, its own authorization, and its retry rounds.
 *
 * @module
 */
export { NovaKmsError } from './novaKmsError'
export { importDerivedKey, type DerivedKeyUsage } from './importDerivedKey'
export { KmsClient, KmsClientError, type KmsClientOptions, type KmsClientBaseOptions, type KmsNodeIdentity, type PopHeaders } from './kmsClient'
export { walletKeySigner, messageText, type KmsSigner } from './kmsSigner'
export { signWithKmsSigner, type SignWithKmsSignerParameters } from './signWithKmsSigner'
export { parsePeerListing, type KmsPeerListing } from './parsePeerListing'
export { runtimeSigner, type RuntimeSignerParameters } from './runtimeSigner'
export { p384EnvelopeKey, type EnvelopeKey, type SealedEnvelope, type P384EnvelopeKeyParameters } from './envelopeKey'
export { webCryptoEnvelopeKey, type WebCryptoEnvelopeKeyParameters } from './webCryptoEnvelopeKey'
export { runtimeEnvelopeKey, type RuntimeEnvelopeKeyParameters } from './runtimeEnvelopeKey'
export type { AppKeyOptions, AppSignerOption, AppEnvelopeKeyOption } from './_appKeys'
export { KmsSignerError, KmsLocalRuntimeError } from './appKeyErrors'
export type { FetchFunction } from './_timedFetch'
export { AuditVerificationError, verifyAuditPage, type AuditCursor, type AuditVerificationCode, type VerifiedAuditPage } from './verifyAuditPage'
export { discoverKmsNodes, withDefaultScheme, type DiscoveredKmsNode, type DiscoverKmsNodesParameters } from './discoverKmsNodes'
export { checkNodeIdentity, type NodeIdentityCheck } from './checkNodeIdentity'
export { verifyNodeAttestation, checkNodeAttestationPolicy, NODE_UNREACHABLE, type NodeAttestationPolicy, type VerifyNodeAttestationParameters } from './verifyNodeAttestation'
export {
  NodeDirectory,
  NODE_LIST_TTL_MS,
  REACHABLE_TTL_MS,
  UNREACHABLE_TTL_MS,
  IDENTITY_TTL_MS,
  BACKGROUND_REFRESH_MS,
  NODE_REQUEST_TIMEOUT_MS,
  type NodeDirectoryOptions,
} from './nodeDirectory'
export {
  authorizeRuntimeInstance,
  type AuthorizeRuntimeInstanceParameters,
  type RuntimeInstanceAuthorization,
} from './authorizeRuntimeInstance'
export { encodeFormUrlComponent } from './encodeFormUrlComponent'
export {
  RuntimeKmsClient,
  RUNTIME_ENVELOPE_INFO,
  RESERVED_DERIVE_PREFIX,
  CALL_ROUNDS,
  ROUND_DELAY_MS,
  AUTHORIZATION_TTL_MS,
  type RuntimeKmsClientOptions,
  type RuntimeKmsClientBaseOptions,
  type KvGetResult,
  type DeriveEpoch,
  type IssuedCertificate,
  type NodeAuditCursor,
  type NodeAuditPage,
} from './runtimeKmsClient'
export { createRuntimeKmsClient, type CreateRuntimeKmsClientParameters, type CreateRuntimeKmsClientBaseParameters, type RuntimeKmsConnection } from './createRuntimeKmsClient'
export { createNovaKmsClient, type CreateNovaKmsClientParameters, type CreateNovaKmsClientBaseParameters } from './createNovaKmsClient'
export {
  RuntimeKmsError,
  KmsRegistryUnavailableError,
  KmsInstanceNotAuthorizedError,
  KmsNodesUnavailableError,
  KmsReservedPathError,
  KmsRequestRejectedError,
  KmsNodeExchangeError,
  type KmsNodeFailure,
} from './runtimeErrors'
