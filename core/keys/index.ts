/**
 * `core/keys`: the key ring, the only code that holds the cluster master secret and derives
 * keys from it (PROTOCOL §5, §8.1). Everything else asks the ring for an operation.
 *
 * @module
 */
export { KeyRing, epochNotHeld, MAX_EPOCH, notReady, type KeyRingOptions, type MasterSecretState, type RecoveryBackupPayload } from './keyRing'
