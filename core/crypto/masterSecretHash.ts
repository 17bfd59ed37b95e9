import { keccak_256 } from '@noble/hashes/sha3.js'
import { assertBytes } from '../_assert'

/**
 * `keccak256(master)`: the value KMSRegistry holds as `masterSecretHash`, the cluster's one
 * anti-split-brain truth (PROTOCOL §1, §7.5).
 */
export function masterSecretHash(masterSecret: Uint8Array): Uint8Array {
  assertBytes(masterSecret, 'masterSecret', 32)
  return keccak_256(masterSecret)
}
