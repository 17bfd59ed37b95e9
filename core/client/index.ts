/**
 * `core/client`: the app-side SDK. PoP signing, envelopes, and verification of every answer
 * against the node's registry identity (PROTOCOL §3.1.1, §3.4, §5.6).
 *
 * @module
 */
export { KmsClient, KmsClientError, type KmsClientOptions, type KmsNodeIdentity, type PopHeaders } from './kmsClient'
