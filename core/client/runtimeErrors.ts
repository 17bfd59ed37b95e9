/**
 * The errors of the runtime-like KMS client (RUNTIME.md §1). Each says whether it is
 * transient, which is what the runtime API turns into 503 + `Retry-After` (RUNTIME.md §2);
 * the others are the caller's or the node's final word. Messages are wire-safe: they name
 * what failed, never key material or input bytes.
 */
import { NovaKmsError } from './novaKmsError'

/** The base of every failure the runtime-like client reports on purpose. */
export class RuntimeKmsError extends NovaKmsError {
  override readonly name: string = 'RuntimeKmsError'
  /** True when the same call may succeed later (registry, authorization, nodes down). */
  readonly transient: boolean

  constructor(message: string, options: { transient: boolean; code: string; details?: string; cause?: unknown }) {
    super(message, options)
    this.transient = options.transient
  }
}

/** NovaAppRegistry could not be read (transport error, timeout, undecodable result). */
export class KmsRegistryUnavailableError extends RuntimeKmsError {
  override readonly name = 'KmsRegistryUnavailableError'
  constructor(options: { cause?: unknown } = {}) {
    super('NovaAppRegistry is unavailable', { transient: true, code: 'registry_unavailable', ...options })
  }
}

/**
 * The runtime's own instance fails its authorization (RUNTIME.md §1 "Its own authorization":
 * registered, ACTIVE, zkVerified, app ACTIVE). Transient: registration may still land.
 */
export class KmsInstanceNotAuthorizedError extends RuntimeKmsError {
  override readonly name = 'KmsInstanceNotAuthorizedError'
  constructor(readonly reason: string) {
    super(`This instance is not authorized for KMS: ${reason}`, { transient: true, code: 'instance_not_authorized' })
  }
}

/** One node's failure within a call, for logs and tests. */
export interface KmsNodeFailure {
  readonly url: string
  readonly reason: string
}

/** Every round over every node failed (RUNTIME.md §1: 3 rounds, 150 ms apart). */
export class KmsNodesUnavailableError extends RuntimeKmsError {
  override readonly name = 'KmsNodesUnavailableError'
  constructor(
    readonly failures: readonly KmsNodeFailure[],
    readonly rounds: number,
  ) {
    super(`No KMS node answered after ${rounds} rounds`, {
      transient: true,
      code: 'nodes_unavailable',
      details: failures.map((failure) => `${failure.url}: ${failure.reason}`).join('; ') || undefined,
    })
  }
}

/** A derive path under the runtime's reserved prefix (RUNTIME.md §1 "Reserved paths"). */
export class KmsReservedPathError extends RuntimeKmsError {
  override readonly name = 'KmsReservedPathError'
  constructor(readonly prefix: string) {
    super(`Derive paths starting with '${prefix}' are reserved`, { transient: false, code: 'reserved_path' })
  }
}

/** A node refused the request itself (a 4xx other than 429): the answer is final. */
export class KmsRequestRejectedError extends RuntimeKmsError {
  override readonly name = 'KmsRequestRejectedError'
  constructor(
    readonly status: number,
    /** The node's PROTOCOL code (§12.4). */
    code: string,
    /** The node's own wire-safe message (PROTOCOL §12.4). */
    readonly nodeMessage: string,
  ) {
    super(nodeMessage === '' ? `KMS node refused the request (HTTP ${status})` : nodeMessage, { transient: false, code })
  }
}

/**
 * A node could not be used for this exchange: connection error, timeout, 5xx or 429, or an
 * answer that failed a check. The client moves on to the next node; callers only see it
 * inside {@link KmsNodesUnavailableError}.
 */
export class KmsNodeExchangeError extends RuntimeKmsError {
  override readonly name = 'KmsNodeExchangeError'
  constructor(
    readonly kind: 'transport' | 'unavailable' | 'unverified',
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, { transient: true, code: `node_${kind}`, ...options })
  }
}
