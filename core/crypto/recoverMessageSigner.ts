import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { KmsError } from '../errors'
import { parseHex, type Wallet } from '../encoding'
import { hashEip191Message } from './hashEip191Message'
import { publicKeyToWallet } from './walletKey'

const ORDER = secp256k1.Point.Fn.ORDER

function formatError(details: string): KmsError {
  return new KmsError('unauthorized', 'Invalid signature format', { details })
}

function invalidError(details: string, cause?: unknown): KmsError {
  return new KmsError('unauthorized', 'Invalid signature', { details, cause })
}

/**
 * Recovers the EIP-191 signer of `message`, by PROTOCOL §3.1.2 step 5 exactly (also used for
 * peer PoP, §4.2, and response counter-signatures, §3.4):
 * 1. the signature is 65 bytes of hex, `0x` optional, else `Invalid signature format`;
 * 2. v ∈ {0, 1, 27, 28} (0 and 1 mean 27 and 28), else `Invalid signature format`. Both
 *    forms stay accepted from apps and peers: the runtime signs with 0/1 (RUNTIME.md §1),
 *    tools such as `cast wallet sign` and older nodes with 27/28. Node-made signatures are
 *    0/1 (`signMessageWithKey`);
 * 3. r and s are in [1, n−1], else `Invalid signature`. High-S is accepted (as in (c)):
 *    recovery runs on the signature as given, never normalised;
 * 4. a recovery that fails is `Invalid signature`.
 *
 * It throws rather than returning a result because every server caller answers both
 * failures with exactly these 403 bodies; a client that needs a boolean compares wallets.
 * @returns the signer's canonical wallet.
 * @throws KmsError `unauthorized` with `Invalid signature format` or `Invalid signature`.
 */
export function recoverMessageSigner(message: string, signature: string): Wallet {
  const parsed = parseRecoverableSignature(signature)
  return recoverParsedSigner(hashEip191Message(message), parsed)
}

/** A 65-byte `r ‖ s ‖ v` signature that passed steps 1–3 of {@link recoverMessageSigner}. */
export interface RecoverableSignature {
  readonly r: bigint
  readonly s: bigint
  /** The recovery id: 0 or 1 (v 27 and 28 mapped). */
  readonly recovery: 0 | 1
}

/**
 * Steps 1–3 of {@link recoverMessageSigner}: format, v, and the ranges of r and s.
 * @throws KmsError `unauthorized` with `Invalid signature format` or `Invalid signature`.
 */
export function parseRecoverableSignature(signature: string): RecoverableSignature {
  const bytes = parseHex(signature)
  if (bytes === undefined) throw formatError('signature is not hex')
  if (bytes.length !== 65) throw formatError(`signature is ${bytes.length} bytes, expected 65`)
  const v = bytes[64]!
  const recovery = v === 0 || v === 27 ? 0 : v === 1 || v === 28 ? 1 : undefined
  if (recovery === undefined) throw formatError(`signature v is ${v}`)
  const r = bytesToNumberBE(bytes.subarray(0, 32))
  const s = bytesToNumberBE(bytes.subarray(32, 64))
  if (r < 1n || r >= ORDER) throw invalidError('signature r is out of range')
  if (s < 1n || s >= ORDER) throw invalidError('signature s is out of range')
  return { r, s, recovery }
}

/**
 * Step 4 of {@link recoverMessageSigner}: the public key that made `signature` over `digest`.
 * @throws KmsError `unauthorized` `Invalid signature` when nothing recovers.
 */
export function recoverParsedPublicKey(digest: Uint8Array, signature: RecoverableSignature): InstanceType<typeof secp256k1.Point> {
  try {
    // The Signature constructor and its recoverPublicKey never apply the low-S rule.
    return new secp256k1.Signature(signature.r, signature.s, signature.recovery).recoverPublicKey(digest)
  } catch (cause) {
    // noble's only failures with r, s in range: R = (r, ·) is not a curve point, or Q = 0.
    throw invalidError('signature does not recover', cause)
  }
}

function recoverParsedSigner(digest: Uint8Array, signature: RecoverableSignature): Wallet {
  return publicKeyToWallet(recoverParsedPublicKey(digest, signature).toBytes(false))
}
