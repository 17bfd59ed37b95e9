import { KmsError } from '../errors'

export interface ValidityLimits {
  /** `CA_DEFAULT_VALIDITY_SECONDS` (PROTOCOL §11). */
  defaultSeconds: number
  /** `CA_MAX_VALIDITY_SECONDS` (PROTOCOL §11). */
  maxSeconds: number
}

/**
 * The `validity_seconds` field of a sign_cert request (PROTOCOL §8.4, check 5): absent means
 * the default; otherwise a JSON integer in 1..max. A numeric string, a fraction, a boolean or
 * `null` is refused rather than coerced: the field is new in this protocol, with no legacy
 * client to tolerate.
 * @throws KmsError `bad_request` (`'validity_seconds' must be in range 1..<max>`)
 */
export function validateValiditySeconds(value: unknown, limits: ValidityLimits): number {
  if (value === undefined) return limits.defaultSeconds
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > limits.maxSeconds) {
    throw new KmsError('bad_request', `'validity_seconds' must be in range 1..${limits.maxSeconds}`)
  }
  return value
}
