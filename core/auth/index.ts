/**
 * `core/auth`: who is calling. PoP messages and their verification, the nonce store, the
 * attestation auth path, registry authorization, rate limiting and client keys
 * (PROTOCOL §3, §4.2 step 2, §12.2).
 *
 * @module
 */
export { NonceStore, type NonceStoreOptions } from './nonceStore'
export { RateLimiter, type RateLimiterOptions, type RateDecision } from './rateLimiter'
export { resolveClientKey, identifiesClient, UNKNOWN_CLIENT } from './clientKey'
export { verifyPop, verifyPopAsync, parsePopTimestamp, type VerifyPopParams, type PopHeaders } from './verifyPop'
export { authorizeApp, type AppIdentity, type AppRegistryView } from './authorizeApp'
export { verifyAppAttestation, type AttestedWallet, type VerifyAppAttestationParams } from './verifyAppAttestation'
export {
  authenticateApp,
  type AuthenticateAppParams,
  type AuthenticatedApp,
  type AppAuthHeaders,
} from './authenticateApp'
export { authenticatePeer, authenticatePeerAsync, type AuthenticatePeerParams, type AuthenticatedPeer, type PeerAuthHeaders } from './authenticatePeer'
export {
  parseAuthVersion,
  parseContentSha256,
  readRequestBinding,
  requestTarget,
  type AuthVersion,
  type RequestBinding,
} from './requestBinding'
export { RequestAdmission, type RequestAdmissionOptions } from './requestAdmission'
