/**
 * secp256k1 wallet keys (PROTOCOL §1, §5.1): the address is the last 20 bytes of
 * keccak256 of the uncompressed public key without its `04` prefix.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { keccak_256 } from '@noble/hashes/sha3.js'
import { bytesToHex, type Wallet } from '../encoding'
import type { Random } from '../runtime'
import { assertBytes } from '../_assert'
import { drawSecretScalar } from './_randomScalar'

/** The canonical wallet of a 65-byte uncompressed secp256k1 public key. */
export function publicKeyToWallet(publicKey: Uint8Array): Wallet {
  assertBytes(publicKey, 'publicKey', 65)
  return `0x${bytesToHex(keccak_256(publicKey.subarray(1)).subarray(12))}`
}

/**
 * The canonical wallet of a 32-byte private key.
 * @throws RangeError for a key outside 1..n−1.
 */
export function privateKeyToWallet(privateKey: Uint8Array): Wallet {
  assertBytes(privateKey, 'privateKey', 32)
  if (!secp256k1.utils.isValidSecretKey(privateKey)) throw new RangeError('privateKey: expected 1 ≤ d < n (secp256k1)')
  return publicKeyToWallet(secp256k1.getPublicKey(privateKey, false))
}

/** A fresh 32-byte wallet key from the injected `Random` (the dev stand-in, §10.3). */
export function generateWalletPrivateKey(random: Random): Uint8Array {
  return drawSecretScalar(random, 32, (scalar) => secp256k1.utils.isValidSecretKey(scalar))
}
