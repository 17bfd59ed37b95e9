import { secp256k1 } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '../encoding'
import { assertBytes } from '../_assert'
import { hashEip191Message } from './hashEip191Message'

/**
 * Signs `message` with EIP-191 the way a node signs (PROTOCOL §3.1.2 last paragraph, §10.3
 * "Wallet"): RFC 6979 nonce, low-S, `r ‖ s ‖ v` with v the recovery id, so v ∈ {0, 1}, exactly
 * as the runtime's `/v1/eth/sign` signs. The runtime's KMS client rejects v = 27 or 28
 * (RUNTIME.md §1), so a node must never put them on the wire; verifiers still accept them
 * (`recoverMessageSigner`). The SDK signs PoP with this too, as the runtime's client does.
 * @returns `0x` + 130 lowercase hex digits.
 */
export function signMessageWithKey(privateKey: Uint8Array, message: string): `0x${string}` {
  assertBytes(privateKey, 'privateKey', 32)
  const signature = secp256k1.sign(hashEip191Message(message), privateKey, {
    prehash: false,
    lowS: true,
    format: 'recovered',
  })
  // noble's 'recovered' layout is recovery ‖ r ‖ s. The recovery id is 0 or 1 here: 2 and
  // 3 need r ≥ n, which has probability about 2^−128 on secp256k1.
  const v = signature[0]!
  return `0x${bytesToHex(signature.subarray(1))}${v.toString(16).padStart(2, '0')}`
}
