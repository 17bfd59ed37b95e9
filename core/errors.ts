/**
 * The one error type of Nova KMS. A `KmsError` carries a wire `code` (PROTOCOL §12.4), the
 * HTTP `status` looked up from that code, and a fixed, wire-safe `message`. `details` and
 * `cause` are for logs only and never reach the wire.
 *
 * @module
 */

/** Every wire error code of PROTOCOL §12.4, with its HTTP status. */
export const ERROR_STATUS = {
  bad_request: 400,
  decryption_failed: 400,
  invalid_csr: 400,
  unsupported_key: 400,
  unauthorized: 403,
  forbidden: 403,
  measurement_mismatch: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  epoch_retired: 410,
  payload_too_large: 413,
  rate_limited: 429,
  internal_error: 500,
  service_unavailable: 503,
  registry_unavailable: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode]

export interface KmsErrorOptions {
  /** Log-only context. Never put key material or raw input here. */
  details?: string
  cause?: unknown
  /** Extra response headers, e.g. `Retry-After` or `Allow`. */
  headers?: Readonly<Record<string, string>>
}

export class KmsError extends Error {
  override readonly name: string = 'KmsError'
  readonly code: ErrorCode
  readonly status: ErrorStatus
  readonly details: string | undefined
  readonly headers: Readonly<Record<string, string>>

  constructor(code: ErrorCode, message: string, options: KmsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.status = ERROR_STATUS[code]
    this.details = options.details
    this.headers = options.headers ?? {}
  }

  /** The PROTOCOL §0 error body: exactly `{"code","message"}`. */
  toBody(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message }
  }
}

/** Narrowing helper that also works across bundle boundaries (duck-typed on `code`). */
export function isKmsError(value: unknown): value is KmsError {
  return value instanceof KmsError
}
