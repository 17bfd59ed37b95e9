/**
 * `@nova-kms/client`: the app-side SDK of Nova KMS. Registry discovery of the KMS nodes, the
 * runtime-like client with its failover rounds, the single-node `KmsClient` with PoP,
 * envelopes and the checks of every answer, the audit-page verifier, the AWS Nitro
 * attestation verifier, and the few key and encoding helpers an app needs to drive them.
 * Everything is re-exported from the project's `core/`; nothing here has its own protocol
 * logic. No Node built-ins: it runs unchanged in Node, workerd and browsers.
 *
 * @module
 */

// Registry reads (NovaAppRegistry, KMSRegistry) over a fetch-based JSON-RPC transport.
export { createChainReaders, type ChainReaders, type CreateChainReadersParameters } from '../../../core/chain/createChainReaders'
export {
  APP_STATUS,
  INSTANCE_STATUS,
  VERSION_STATUS,
  type AppRecord,
  type InstanceRecord,
  type VersionRecord,
  type KmsRegistryReader,
  type NovaAppRegistryReader,
} from '../../../core/chain/types'

// Discovery, identity binding, the node directory and the runtime-like client.
export { discoverKmsNodes, withDefaultScheme, type DiscoveredKmsNode, type DiscoverKmsNodesParameters } from '../../../core/client/discoverKmsNodes'
export { checkNodeIdentity, type NodeIdentityCheck } from '../../../core/client/checkNodeIdentity'
export {
  NodeDirectory,
  NODE_LIST_TTL_MS,
  REACHABLE_TTL_MS,
  UNREACHABLE_TTL_MS,
  IDENTITY_TTL_MS,
  BACKGROUND_REFRESH_MS,
  NODE_REQUEST_TIMEOUT_MS,
  type NodeDirectoryOptions,
} from '../../../core/client/nodeDirectory'
export {
  authorizeRuntimeInstance,
  type AuthorizeRuntimeInstanceParameters,
  type RuntimeInstanceAuthorization,
} from '../../../core/client/authorizeRuntimeInstance'
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
} from '../../../core/client/runtimeKmsClient'
export {
  createRuntimeKmsClient,
  type CreateRuntimeKmsClientParameters,
  type CreateRuntimeKmsClientBaseParameters,
  type RuntimeKmsConnection,
} from '../../../core/client/createRuntimeKmsClient'

// The app developer's client: binding v2, and every node verified by its attestation first.
export { createNovaKmsClient, type CreateNovaKmsClientParameters, type CreateNovaKmsClientBaseParameters } from '../../../core/client/createNovaKmsClient'

// The app's keys: a signer (viem's LocalAccount shape, or the runtime's /v1/eth/sign) and an
// envelope key (a WebCrypto P-384 key pair, or the runtime's /v1/encryption/*).
export { walletKeySigner, messageText, type KmsSigner } from '../../../core/client/kmsSigner'
export { signWithKmsSigner, type SignWithKmsSignerParameters } from '../../../core/client/signWithKmsSigner'
export { parsePeerListing, type KmsPeerListing } from '../../../core/client/parsePeerListing'
export { runtimeSigner, type RuntimeSignerParameters } from '../../../core/client/runtimeSigner'
export { p384EnvelopeKey, type EnvelopeKey, type SealedEnvelope, type P384EnvelopeKeyParameters } from '../../../core/client/envelopeKey'
export { webCryptoEnvelopeKey, type WebCryptoEnvelopeKeyParameters } from '../../../core/client/webCryptoEnvelopeKey'
export { runtimeEnvelopeKey, type RuntimeEnvelopeKeyParameters } from '../../../core/client/runtimeEnvelopeKey'
export type { AppKeyOptions, AppSignerOption, AppEnvelopeKeyOption } from '../../../core/client/_appKeys'
export { KmsSignerError, KmsLocalRuntimeError } from '../../../core/client/appKeyErrors'
export {
  verifyNodeAttestation,
  checkNodeAttestationPolicy,
  NODE_UNREACHABLE,
  type NodeAttestationPolicy,
  type VerifyNodeAttestationParameters,
} from '../../../core/client/verifyNodeAttestation'
export { importDerivedKey, type DerivedKeyUsage } from '../../../core/client/importDerivedKey'
export { NovaKmsError } from '../../../core/client/novaKmsError'
export {
  RuntimeKmsError,
  KmsRegistryUnavailableError,
  KmsInstanceNotAuthorizedError,
  KmsNodesUnavailableError,
  KmsReservedPathError,
  KmsRequestRejectedError,
  KmsNodeExchangeError,
  type KmsNodeFailure,
} from '../../../core/client/runtimeErrors'

// One node: PoP, envelopes, binding v1/v2, and the audit chain.
export {
  KmsClient,
  KmsClientError,
  type KmsClientOptions,
  type KmsClientBaseOptions,
  type KmsNodeIdentity,
  type PopHeaders,
} from '../../../core/client/kmsClient'
export type { FetchFunction } from '../../../core/client/_timedFetch'
export {
  AuditVerificationError,
  verifyAuditPage,
  type AuditCursor,
  type AuditVerificationCode,
  type VerifiedAuditPage,
} from '../../../core/client/verifyAuditPage'

// The AWS Nitro attestation verifier (ATTESTATION.md).
export {
  verifyNitroAttestation,
  decodeNitroAttestationUnverified,
  ATTESTATION_DOCUMENT_MAX_BYTES,
  decodeAttestationText,
  detectAttestationFormat,
  ATTESTATION_TEXT_MAX_BYTES,
  codeMeasurement,
  loadTrustedRoot,
  AWS_NITRO_ROOT_G1_SHA256,
  AttestationError,
  isAttestationError,
  ATTESTATION_ERROR_DESCRIPTIONS,
  type NitroAttestation,
  type VerifyNitroAttestationOptions,
  type AttestationTextFormat,
  type AttestationInputFormat,
  type AttestationErrorCode,
} from './verifier'

// Keys: the app's P-384 teePubkey key and its secp256k1 wallet.
export { importP384PrivateKey, generateP384PrivateKey, type P384PrivateKey } from '../../../core/crypto/p384PrivateKey'
export type { P384PublicKey } from '../../../core/crypto/p384PublicKey'
export { privateKeyToWallet, publicKeyToWallet, generateWalletPrivateKey } from '../../../core/crypto/walletKey'
export { ENVELOPE_INFO_CURRENT, ENVELOPE_INFO_ENCLAVER_V1, ENVELOPE_INFO_CAPSULE_API } from '../../../core/crypto/envelope'

// Encodings for keys, wallets and values.
export { bytesToHex, parseHex } from '../../../core/encoding/hex'
export { bytesToBase64, parseBase64 } from '../../../core/encoding/base64'
export { utf8ToBytes } from '../../../core/encoding/bytes'
export { parseWallet, type Wallet } from '../../../core/encoding/wallet'
export type { JsonValue } from '../../../core/encoding/canonicalJson'

// What the clients take by injection, and real defaults for it.
export type { Clock, Random } from '../../../core/runtime'
export type { Sleep } from '../../../core/cluster/retry'
export { systemClock, cryptoRandom, timerSleep } from './defaults'
