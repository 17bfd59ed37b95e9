/**
 * The PCR0, PCR1 and PCR2 an app instance's documents carry, when they are not the dev
 * stand-in's zeros (PROTOCOL §10.3). Non-zero values make the documents pass a verifier that
 * refuses debug mode, and their `codeMeasurement` (keccak256(PCR0 ‖ PCR1 ‖ PCR2), §3.2.2 step
 * 5) is whatever version the test enrolls. Only these three: they are what the measurement and
 * the debug check read; PCR3..15 stay zero.
 */
import { parseHex } from '../../core/encoding'

/** A Nitro PCR is a SHA-384 register. */
export const PCR_BYTES = 48

/** PCR index (0, 1, 2) → its 48 bytes. */
export type InstancePcrs = ReadonlyMap<number, Uint8Array>

/** One PCR value: exactly 48 bytes of hex, `0x` optional; `undefined` for anything else. */
export function parsePcrValue(value: unknown): Uint8Array | undefined {
  const bytes = typeof value === 'string' ? parseHex(value) : undefined
  return bytes?.length === PCR_BYTES ? bytes : undefined
}
