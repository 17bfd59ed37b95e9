/**
 * The node's copy of the cluster master secret and what is derived from it (PROTOCOL §5.2,
 * §7). Installing a secret replaces every derived key at once, so no caller can mix keys
 * from two secrets.
 */
import { deriveSyncKey, masterSecretHash } from '../crypto'
import { bytesEqual } from '../encoding'

export type MasterSecretState = 'uninitialized' | 'generated' | 'synced'

export interface InstalledSecret {
  readonly secret: Uint8Array
  /** keccak256(secret), compared with the chain's `masterSecretHash`. */
  readonly hash: Uint8Array
  readonly syncKey: Uint8Array
}

export class MasterSecretHolder {
  #installed: InstalledSecret | undefined
  #state: MasterSecretState = 'uninitialized'
  #syncedFrom: string | null = null
  /** Bumped on every install, so caches of derived keys know when to drop their entries. */
  #generation = 0

  get installed(): InstalledSecret | undefined {
    return this.#installed
  }

  get state(): MasterSecretState {
    return this.#state
  }

  get syncedFrom(): string | null {
    return this.#syncedFrom
  }

  get generation(): number {
    return this.#generation
  }

  /** Installs a 32-byte secret as `generated` or `synced` (with the peer URL it came from). */
  async install(secret: Uint8Array, state: Exclude<MasterSecretState, 'uninitialized'>, syncedFrom: string | null = null): Promise<void> {
    if (secret.length !== 32) throw new RangeError('master secret must be 32 bytes')
    const copy = secret.slice()
    const syncKey = await deriveSyncKey(copy)
    // Everything derived is computed first and swapped in together.
    this.#installed = { secret: copy, hash: masterSecretHash(copy), syncKey }
    this.#state = state
    this.#syncedFrom = state === 'synced' ? syncedFrom : null
    this.#generation++
  }

  /** True when a secret is installed and its hash equals `chainHash`. */
  matches(chainHash: Uint8Array): boolean {
    return this.#installed !== undefined && bytesEqual(this.#installed.hash, chainHash)
  }
}
