import { p256 } from '@noble/curves/nist.js'
import { bytesToNumberBE, numberToBytesBE } from '@noble/curves/utils.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '../encoding'
import { assertBytes } from '../_assert'

/** The cluster CA's P-256 key pair. */
export interface CaKey {
  /** The scalar d, 32 bytes big-endian. Secret. */
  readonly privateKey: Uint8Array
  /** The uncompressed SEC1 point `04 ‖ X ‖ Y` (65 bytes). */
  readonly publicKey: Uint8Array
}

/**
 * Derives the CA key from the 32-byte master secret (PROTOCOL §8.1):
 * `seed = HKDF-SHA256(master, "nova-kms:ca", "ca-root-p256", 48)`,
 * `d = (int_be(seed) mod (n − 1)) + 1`.
 *
 * The 48-byte seed is FIPS 186-5's "extra random bits" method: reducing 384 uniform bits
 * modulo the ~256-bit order leaves a bias below 2^−128, and the `+ 1` keeps d in [1, n−1].
 * Every node derives the same key, which is what makes the CA certificate byte-identical
 * across the cluster (§8.2).
 *
 * @throws TypeError | RangeError if `masterSecret` is not 32 bytes (a caller bug).
 */
export function deriveCaKey(masterSecret: Uint8Array): CaKey {
  assertBytes(masterSecret, 'masterSecret', 32)
  const seed = hkdf(sha256, masterSecret, utf8ToBytes('nova-kms:ca'), utf8ToBytes('ca-root-p256'), 48)
  const order = p256.Point.Fn.ORDER
  const d = (bytesToNumberBE(seed) % (order - 1n)) + 1n
  seed.fill(0) // the seed is key-equivalent; do not leave it for the garbage collector
  const privateKey = numberToBytesBE(d, 32)
  return { privateKey, publicKey: p256.getPublicKey(privateKey, false) }
}
