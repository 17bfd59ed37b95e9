/**
 * noble-style preconditions for the core's trusted inputs (keys, secrets, identities,
 * clocks). Untrusted input never reaches these: the boundaries parse it first (`parseCsr`,
 * `validateValiditySeconds`, the functions' request parsers). A failure is therefore a
 * caller bug, a plain TypeError (wrong type) or RangeError (wrong length or range) that the
 * pipeline turns into a 500. Messages name the parameter and the expectation, never the
 * content (STYLE "Validation at boundaries").
 */

export function assertBytes(value: unknown, field: string, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${field}: expected Uint8Array, got ${typeof value}`)
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${field}: expected ${length} bytes, got ${value.length}`)
  }
}

/** An integer in `min..max`; `max` defaults to 2^53−1, so the value is always a safe integer. */
export function assertInteger(value: unknown, field: string, min: number, max: number = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${field}: expected an integer, got ${typeof value}`)
  }
  if (value < min || value > max) throw new RangeError(`${field}: expected ${min}..${max}, got ${value}`)
}

export function assertString(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${field}: expected string, got ${typeof value}`)
}
