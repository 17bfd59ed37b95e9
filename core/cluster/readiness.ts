/**
 * Readiness (PROTOCOL §7.3): `service_available` and the exact reason while it is false.
 */

export type UnavailableReason =
  | 'initializing'
  | 'cannot read node wallet'
  | 'peer cache refresh failed'
  | 'self not in KMS node list'
  | 'cannot read local teePubkey'
  | 'local teePubkey mismatch with registry'
  | 'cannot read master secret hash'
  | 'cannot get random bytes from odyn'
  | 'local master secret hash unavailable'
  | 'awaiting on-chain master secret hash'
  | 'failed to set master secret hash'
  | 'master secret sync failed'
  | 'peer attestation failed'
  | 'cannot read own attestation'
  | 'test build refuses an AWS-rooted enclave'
  | 'synced master secret hash mismatch'
  | 'master secret not initialized'
  | 'cannot read recovery policy'
  /** §7.6: no peer holds the secret, a backup exists; k shares of t received. */
  | `awaiting recovery shares (${number}/${number})`

export class Readiness {
  #available = false
  #reason: UnavailableReason | '' = 'initializing'
  isOperator = false

  get available(): boolean {
    return this.#available
  }

  /** `""` while available (§2.1). */
  get reason(): UnavailableReason | '' {
    return this.#reason
  }

  markUnavailable(reason: UnavailableReason): void {
    this.#available = false
    this.#reason = reason
  }

  markAvailable(): void {
    this.#available = true
    this.#reason = ''
  }
}
