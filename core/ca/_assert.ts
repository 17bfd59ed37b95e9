/**
 * Preconditions of the CA's trusted inputs (master secret, keys, identity, clock). Untrusted
 * input never reaches these: `parseCsr` and `validateValiditySeconds` are the boundary. A
 * failure here is therefore a caller bug, a plain TypeError or RangeError that becomes a 500
 * (STYLE "Validation at boundaries"). Messages name the parameter, never its content.
 */

export function assertBytes(value: unknown, field: string, length: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array, got ${typeof value}`)
  if (value.length !== length) throw new RangeError(`${field}: expected ${length} bytes, got ${value.length}`)
}

export function assertSafeInteger(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${field}: expected a safe integer, got ${typeof value}`)
  }
  if (value < min || value > max) throw new RangeError(`${field}: expected ${min}..${max}, got ${value}`)
}

export function assertString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${field}: expected string, got ${typeof value}`)
}
