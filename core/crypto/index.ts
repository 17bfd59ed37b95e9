/**
 * `core/crypto`: the protocol's cryptography (PROTOCOL §5, §10.2). It owns the HKDF v1 and v2
 * (key epoch) derivations, AES-GCM records and their re-encryption between epochs, the P-384
 * envelope cipher and its replay memory, master-secret sealing, the /sync HMAC, P-384 key
 * encodings, and secp256k1/EIP-191 wallet signatures with the exact PoP strings they sign.
 * WebCrypto does ECDH and AES-GCM; noble does HKDF, HMAC, secp256k1, keccak and P-384 point
 * checks. Nothing here reads a clock or a random source: randomness comes in as `Random`
 * (DESIGN §3).
 *
 * @module
 */
export { hkdfSha256, type HkdfSha256Params, type HkdfSha256Result } from './hkdfSha256'
export {
  deriveAppKey,
  deriveDataKey,
  deriveSyncKey,
  deriveReencryptNonceKey,
  MAX_KEY_EPOCH,
  type DeriveAppKeyParams,
  type DeriveAppKeyResult,
} from './deriveAppKey'
export { masterSecretHash } from './masterSecretHash'
export { importRecordKey, encryptRecord, decryptRecord, type RecordKey } from './records'
export { reencryptRecord, type ReencryptRecordParams } from './reencryptRecord'
export {
  parseP384PublicKey,
  encodeP384PublicKeyDer,
  isSameP384PublicKey,
  type P384PublicKey,
} from './p384PublicKey'
export { importP384PrivateKey, generateP384PrivateKey, type P384PrivateKey } from './p384PrivateKey'
export { computeP384SharedSecret } from './computeP384SharedSecret'
export {
  deriveEnvelopeKey,
  encryptEnvelope,
  decryptEnvelope,
  ENVELOPE_INFO_CURRENT,
  ENVELOPE_INFO_ENCLAVER_V1,
  ENVELOPE_INFO_CAPSULE_API,
  type DeriveEnvelopeKeyParams,
  type EncryptEnvelopeParams,
  type DecryptEnvelopeParams,
} from './envelope'
export { ReplayMemory, REPLAY_MEMORY_CAPACITY } from './replayMemory'
export {
  sealMasterSecret,
  unsealMasterSecret,
  deriveSealingKey,
  type SealedMasterSecret,
  type SealMasterSecretParams,
  type UnsealMasterSecretParams,
} from './sealedMasterSecret'
export { hmacSha256 } from './hmacSha256'
export { computeSyncSignature, verifySyncSignature, type VerifySyncSignatureParams } from './syncSignature'
export { hashEip191Message } from './hashEip191Message'
export { signMessageWithKey } from './signMessageWithKey'
export { recoverMessageSigner } from './recoverMessageSigner'
export { inlineSignatureWork, threadKnownSigners, type SignatureWork } from './signatureWork'
export { KnownSigners, DEFAULT_KNOWN_SIGNER_TABLES, type KnownSignersOptions } from './knownSigners'
export { useNativeAesGcm, type AesGcmKey, type NativeAesGcm } from './_aesGcm'
export { publicKeyToWallet, privateKeyToWallet, generateWalletPrivateKey } from './walletKey'
export {
  buildAppAuthMessage,
  buildAppAuthMessageV2,
  buildPeerAuthMessage,
  buildPeerAuthMessageV2,
  buildResponseBindingMessage,
  buildResponseMessage,
  type AuthMessageParams,
  type AuthMessageV2Params,
  type ResponseBindingParams,
  type ResponseMessageParams,
} from './popMessages'
export { computeContentSha256, computeRequestDigest, type RequestDigestParams } from './requestDigest'
