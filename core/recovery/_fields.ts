/**
 * The fields a recovery plaintext binds (PROTOCOL §7.6) and their strict parsers: every
 * value has exactly one spelling, so comparing the parsed value is comparing the bytes.
 */
import { bytesToHex, isCanonicalWallet, parseHex, type Wallet } from '../encoding'

/** The deployment and position a sealed share belongs to. `index` is 0-based. */
export interface RecoveryShareBinding {
  readonly chainId: number
  /** KMSRegistry address, canonical (lowercase `0x`). */
  readonly kmsRegistry: Wallet
  /** The master secret hash the share rebuilds, 32 bytes. */
  readonly secretHash: Uint8Array
  readonly policyId: number
  /** The custodian's 0-based position in the policy. */
  readonly index: number
  readonly threshold: number
}

/** A plain Shamir share of the 32-byte master secret: 32 y bytes ‖ x. */
export const RECOVERY_SHARE_LENGTH = 33

export function hex0x(bytes: Uint8Array): string {
  return `0x${bytesToHex(bytes)}`
}

/** `0x` + lowercase hex of exactly `length` bytes, else undefined. */
export function parseHex0x(value: unknown, length: number): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length !== 2 + 2 * length || !value.startsWith('0x')) return undefined
  if (!/^[0-9a-f]*$/.test(value.slice(2))) return undefined
  return parseHex(value.slice(2))
}

export function isWallet(value: unknown): value is Wallet {
  return typeof value === 'string' && isCanonicalWallet(value)
}

export function isIndex(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

/** A share's own shape: 33 bytes and x ≠ 0 (x = 0 would be the secret itself). */
export function parseShare(value: unknown): Uint8Array | undefined {
  const share = parseHex0x(value, RECOVERY_SHARE_LENGTH)
  return share !== undefined && share[RECOVERY_SHARE_LENGTH - 1] !== 0 ? share : undefined
}
