/**
 * Argument checks for `core/chain` entry points, noble-style: a wrong argument is a caller
 * bug, so it throws a `TypeError`/`RangeError` naming the parameter, never a `KmsError`.
 */
import { parseWallet, type Wallet } from '../encoding'

export function requireWallet(value: string, field: string): Wallet {
  const wallet = parseWallet(value)
  if (wallet === undefined) throw new TypeError(`${field}: expected a 20-byte hex address`)
  return wallet
}

export function requireId(value: number, field: string): bigint {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${field}: expected a non-negative safe integer, got ${String(value)}`)
  }
  return BigInt(value)
}
