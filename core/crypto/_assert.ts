/**
 * noble-style precondition checks for core/crypto. A failure here is a caller bug (the
 * boundary should have parsed the input), so it throws a plain TypeError or RangeError that
 * the bundle turns into a 500. Messages name the parameter and the expectation, never the
 * content (STYLE "Validation at boundaries").
 */

export function assertBytes(value: unknown, field: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array, got ${typeof value}`)
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${field}: expected ${length} bytes, got ${value.length}`)
  }
}

export function assertInteger(value: unknown, field: string, min: number, max: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${field}: expected an integer, got ${typeof value}`)
  }
  if (value < min || value > max) throw new RangeError(`${field}: expected ${min}..${max}, got ${value}`)
}

export function assertString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${field}: expected string, got ${typeof value}`)
}
