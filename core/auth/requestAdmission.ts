/**
 * Admission control for the whole node (PROTOCOL §12.3, M2): caps the requests in progress
 * and the request-body bytes buffered at once, over every caller. Behind the enclave's L4
 * ingress every caller is loopback, so per-client limits cannot do this; without it, 150
 * slow uploads of 3 MiB each added 462 MiB to the process.
 */
import { KmsError } from '../errors'

export interface RequestAdmissionOptions {
  maxConcurrentRequests: number
  maxInflightBodyBytes: number
}

function busy(message: string): KmsError {
  return new KmsError('service_unavailable', message, { headers: { 'retry-after': '1' } })
}

export class RequestAdmission {
  readonly #options: RequestAdmissionOptions
  /** Bytes each request holds, so that its end releases exactly what it took. */
  readonly #held = new WeakMap<Request, number>()
  #inProgress = 0
  #bufferedBytes = 0

  constructor(options: RequestAdmissionOptions) {
    this.#options = options
  }

  get inProgress(): number {
    return this.#inProgress
  }

  get bufferedBytes(): number {
    return this.#bufferedBytes
  }

  /**
   * Admits a request, or refuses it while `maxConcurrentRequests` are in progress.
   * @throws KmsError 503 `Too many requests in progress` with `Retry-After: 1`
   */
  enter(): void {
    if (this.#inProgress >= this.#options.maxConcurrentRequests) throw busy('Too many requests in progress')
    this.#inProgress++
  }

  /** Ends a request admitted by `enter`, releasing the body bytes it held. */
  leave(request: Request): void {
    this.#inProgress = Math.max(0, this.#inProgress - 1)
    this.#bufferedBytes -= this.#held.get(request) ?? 0
    this.#held.delete(request)
  }

  /**
   * Charges `bytes` more of `request`'s body against the node-wide budget.
   * @throws KmsError 503 `Server busy` when the budget would be exceeded.
   */
  holdBody(request: Request, bytes: number): void {
    if (this.#bufferedBytes + bytes > this.#options.maxInflightBodyBytes) throw busy('Server busy')
    this.#bufferedBytes += bytes
    this.#held.set(request, (this.#held.get(request) ?? 0) + bytes)
  }
}
