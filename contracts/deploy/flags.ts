/** Typed readers for the CLI's `--flag value` pairs; each names the flag it rejects. */
import { getAddress, isAddress, isHex, size, stringToHex, type Address, type Hex } from 'viem'

export type Flags = Readonly<Record<string, string | undefined>>

const STATUS_NAMES = {
  app: ['ACTIVE', 'INACTIVE', 'REVOKED'],
  version: ['ENROLLED', 'DEPRECATED', 'REVOKED'],
  instance: ['ACTIVE', 'STOPPED', 'FAILED'],
} as const

/** The flag's value, else `fallback`; with neither, the flag is required. */
export function text(flags: Flags, name: string, fallback?: string): string {
  const value = flags[name] ?? fallback
  if (value === undefined) throw new Error(`--${name} is required`)
  return value
}

export function address(flags: Flags, name: string, fallback?: string): Address {
  const value = text(flags, name, fallback)
  if (!isAddress(value, { strict: false })) throw new Error(`--${name}: expected a 20-byte hex address`)
  return getAddress(value)
}

export function hex(flags: Flags, name: string, fallback?: string): Hex {
  const value = text(flags, name, fallback)
  if (!isHex(value, { strict: true })) throw new Error(`--${name}: expected 0x-prefixed hex`)
  return value
}

/** 32 bytes of hex, or (for labels such as `--tee-arch nitro`) text of at most 32 bytes. */
export function bytes32(flags: Flags, name: string, fallback?: string): Hex {
  const value = text(flags, name, fallback)
  if (isHex(value, { strict: true })) {
    if (size(value) !== 32) throw new Error(`--${name}: expected 32 bytes of hex`)
    return value
  }
  return stringToHex(value, { size: 32 })
}

export function id(flags: Flags, name: string, fallback?: string): number {
  const value = text(flags, name, fallback)
  const parsed = Number(value)
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(parsed)) throw new Error(`--${name}: expected a decimal integer`)
  return parsed
}

export function bool(flags: Flags, name: string, fallback?: string): boolean {
  const value = text(flags, name, fallback)
  if (value !== 'true' && value !== 'false') throw new Error(`--${name}: expected true or false`)
  return value === 'true'
}

/** `--status` as a PROTOCOL §9.2 name (case-insensitive) or its uint8 value. */
export function status(flags: Flags, kind: keyof typeof STATUS_NAMES): number {
  const value = text(flags, 'status').toUpperCase()
  const names: readonly string[] = STATUS_NAMES[kind]
  const index = /^\d+$/.test(value) ? Number(value) : names.indexOf(value)
  if (index < 0 || index >= names.length) throw new Error(`--status: expected one of ${names.join(', ')}`)
  return index
}
