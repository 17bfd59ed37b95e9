/**
 * The one HTTP error of the runtime API. Like the runtime, an error answer is a plain-text
 * message (PROTOCOL §10.1: "A non-2xx answer is a failure, with a text body"), so a client
 * can show it as it is.
 */
export class RuntimeApiError extends Error {
  override readonly name = 'RuntimeApiError'
  constructor(
    readonly status: 400 | 404 | 413 | 503,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message)
  }
}

/** A request the API refuses as invalid: always a 400 with a message naming the problem. */
export function badRequest(message: string): RuntimeApiError {
  return new RuntimeApiError(400, message)
}
