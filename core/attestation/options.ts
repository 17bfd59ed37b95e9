/**
 * Step 0 of ATTESTATION.md §2: the options are validated before the document is read. A bad
 * option is a caller bug (`ATTESTATION_OPTIONS_INVALID`, a 500 on the wire), so JavaScript
 * callers without types, and typos such as `expectedNonse`, fail loudly instead of silently
 * dropping a check. Values are copied so that a caller mutating them during the awaits of
 * steps 6–7 cannot change what is checked.
 */
import { AttestationError } from './errors'
import type { VerifyNitroAttestationOptions } from './types'

const DEFAULT_MAX_FUTURE_SKEW_MS = 30_000
const NONCE_MAX_BYTES = 1024
const PCR_MAX_INDEX = 31
const PCR_LENGTH = 48
const ROOT_MAX_BYTES = 1024
const KNOWN_OPTIONS: readonly string[] = [
  'at',
  'expectedNonce',
  'maxAgeMs',
  'maxFutureSkewMs',
  'expectedPcrs',
  'allowDebugMode',
  'trustedRoot',
]

export interface ResolvedOptions {
  readonly at: number
  readonly expectedNonce: Uint8Array | undefined
  readonly maxAgeMs: number | undefined
  readonly maxFutureSkewMs: number
  readonly expectedPcrs: ReadonlyMap<number, Uint8Array> | undefined
  readonly allowDebugMode: boolean
  readonly trustedRoot: Uint8Array | undefined
}

function optionsInvalid(): AttestationError {
  return new AttestationError('ATTESTATION_OPTIONS_INVALID')
}

function isMilliseconds(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function optionalMilliseconds(value: unknown): number | undefined {
  if (value !== undefined && !isMilliseconds(value)) throw optionsInvalid()
  return value
}

function bytesWithin(value: unknown, min: number, max: number): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length < min || value.length > max) throw optionsInvalid()
  return value.slice()
}

function optionalBytes(value: unknown, min: number, max: number): Uint8Array | undefined {
  return value === undefined ? undefined : bytesWithin(value, min, max)
}

function optionalPcrs(value: unknown): ReadonlyMap<number, Uint8Array> | undefined {
  if (value === undefined) return undefined
  if (!(value instanceof Map)) throw optionsInvalid()
  const pcrs = new Map<number, Uint8Array>()
  for (const [index, pcr] of value as Map<unknown, unknown>) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > PCR_MAX_INDEX) {
      throw optionsInvalid()
    }
    pcrs.set(index, bytesWithin(pcr, PCR_LENGTH, PCR_LENGTH))
  }
  return pcrs
}

/**
 * Validates the document argument and the options, applying defaults.
 * @throws AttestationError `ATTESTATION_OPTIONS_INVALID`.
 */
export function resolveOptions(document: unknown, options: unknown): ResolvedOptions {
  if (!(document instanceof Uint8Array)) throw optionsInvalid()
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw optionsInvalid()
  for (const key of Object.keys(options)) if (!KNOWN_OPTIONS.includes(key)) throw optionsInvalid()
  const given = options as Partial<Record<keyof VerifyNitroAttestationOptions, unknown>>
  if (!isMilliseconds(given.at)) throw optionsInvalid()
  if (given.allowDebugMode !== undefined && typeof given.allowDebugMode !== 'boolean') throw optionsInvalid()
  return {
    at: given.at,
    expectedNonce: optionalBytes(given.expectedNonce, 0, NONCE_MAX_BYTES),
    maxAgeMs: optionalMilliseconds(given.maxAgeMs),
    maxFutureSkewMs: optionalMilliseconds(given.maxFutureSkewMs) ?? DEFAULT_MAX_FUTURE_SKEW_MS,
    expectedPcrs: optionalPcrs(given.expectedPcrs),
    allowDebugMode: given.allowDebugMode ?? false,
    trustedRoot: optionalBytes(given.trustedRoot, 1, ROOT_MAX_BYTES),
  }
}
