/**
 * The app's signer (issue 17 item 5): whatever signs its PoP (PROTOCOL §3.1.1, §3.5). The
 * shape is what viem's `LocalAccount` offers, so `privateKeyToAccount(key)` plugs in as it is;
 * `runtimeSigner` is the runtime's `/v1/eth/sign`, and `walletKeySigner` a raw key.
 */
import { privateKeyToWallet, signMessageWithKey } from '../crypto'
import { parseHex, parseUtf8 } from '../encoding'

/** An EIP-191 personal-message signer: viem's `LocalAccount` satisfies it. */
export interface KmsSigner {
  /** The signer's wallet; any case (viem's is checksummed). */
  readonly address: `0x${string}`
  /**
   * EIP-191 signature of `message` (the prefix added by the signer): `0x` + 130 hex digits,
   * `r ‖ s ‖ v`, v either 0/1 or 27/28. The SDK only ever passes a string.
   */
  signMessage(args: { message: string | { raw: Uint8Array | `0x${string}` } }): Promise<`0x${string}`>
}

/**
 * The text of a message to sign. A `raw` message must be UTF-8: the PoP strings are, and the
 * runtime's `/v1/eth/sign` takes nothing else (RUNTIME.md §2).
 * @throws RangeError for raw bytes that are not hex or not UTF-8.
 */
export function messageText(message: string | { raw: Uint8Array | `0x${string}` }): string {
  if (typeof message === 'string') return message
  const bytes = typeof message.raw === 'string' ? parseHex(message.raw) : message.raw
  if (bytes === undefined) throw new RangeError('message.raw: expected hex or bytes')
  const text = parseUtf8(bytes)
  if (text === undefined) throw new RangeError('message.raw: expected UTF-8 bytes (only text messages can be signed)')
  return text
}

/**
 * A signer over a 32-byte secp256k1 key held in memory (the `walletKey` shorthand): RFC 6979,
 * low-S, v ∈ {0, 1}, exactly as the runtime signs (`signMessageWithKey`).
 * @throws RangeError for a key that is not 32 bytes or not a valid scalar.
 */
export function walletKeySigner(walletKey: Uint8Array): KmsSigner {
  const address = privateKeyToWallet(walletKey)
  return {
    address,
    signMessage: async ({ message }) => signMessageWithKey(walletKey, messageText(message)),
  }
}
