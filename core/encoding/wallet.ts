/** Wallet canonical form (PROTOCOL §0): `0x` + 40 lowercase hex digits. */

export type Wallet = `0x${string}`

const FORTY_HEX = /^[0-9a-fA-F]{40}$/

/**
 * Canonicalises a wallet: trims, accepts `0x`/`0X` or no prefix, requires 40 hex digits,
 * lowercases. EIP-55 checksums are not checked.
 * @returns the canonical wallet, or `undefined` if the text is not a wallet.
 */
export function parseWallet(text: string): Wallet | undefined {
  const trimmed = text.trim()
  const digits = trimmed.startsWith('0x') || trimmed.startsWith('0X') ? trimmed.slice(2) : trimmed
  return FORTY_HEX.test(digits) ? `0x${digits.toLowerCase()}` : undefined
}

/** True if `text` is already in canonical form (used where other spellings are rejected). */
export function isCanonicalWallet(text: string): text is Wallet {
  return text.length === 42 && text.startsWith('0x') && /^[0-9a-f]{40}$/.test(text.slice(2))
}
