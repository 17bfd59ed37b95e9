/**
 * The node's recovery bookkeeping (PROTOCOL §7.6), shared by `node_tick` (which decides
 * whether the node awaits shares, and publishes backups) and `POST /recovery/share` (which
 * feeds the collector). Holds no secret: only verified shares inside the collector.
 */
import { bytesEqual, bytesToHex } from '../encoding'
import type { RecoveryBackup, RecoveryPolicy } from '../chain/types'
import { RecoveryShareCollector } from './shareCollector'

/** Ticks to wait before resubmitting a backup that was sent but is not yet seen on chain. */
export const BACKUP_RESUBMIT_TICKS = 10

export interface AwaitingRecovery {
  readonly secretHash: Uint8Array
  /** The cluster epoch whose secret the shares rebuild (§7.7: the newest committed one). */
  readonly epoch: number
  readonly policy: RecoveryPolicy
  readonly backup: RecoveryBackup
  readonly collector: RecoveryShareCollector
}

export class RecoveryProgress {
  #awaiting: AwaitingRecovery | undefined
  /** `hash:policy` → the tick count at which a backup was last submitted. */
  readonly #submitted = new Map<string, number>()
  #ticks = 0

  /** Set while the node awaits shares for the chain's hash under the active policy. */
  get awaiting(): AwaitingRecovery | undefined {
    return this.#awaiting
  }

  /**
   * The node has no peer that holds the secret and a backup exists: await its shares. Keeps
   * the collected shares when hash and policy are unchanged; a change resets the collector.
   */
  await(secretHash: Uint8Array, policy: RecoveryPolicy, backup: RecoveryBackup, epoch = 0): AwaitingRecovery {
    const current = this.#awaiting
    if (current !== undefined && current.epoch === epoch && current.collector.matches(secretHash, policy.policyId) && sameCommitments(current.backup, backup)) {
      return current
    }
    current?.collector.clear()
    this.#awaiting = {
      secretHash: secretHash.slice(),
      epoch,
      policy,
      backup,
      collector: new RecoveryShareCollector({ secretHash, policyId: policy.policyId, threshold: policy.threshold, custodianCount: policy.custodians.length }),
    }
    return this.#awaiting
  }

  /** The node holds the secret again, or no backup applies: forget the collection. */
  stopAwaiting(): void {
    this.#awaiting?.collector.clear()
    this.#awaiting = undefined
  }

  /** Counts node ticks, for the resubmission delay. */
  tick(): void {
    this.#ticks++
  }

  /** Whether a backup for (hash, policy) may be built and submitted now. */
  mayPublish(secretHash: Uint8Array, policyId: number): boolean {
    const at = this.#submitted.get(key(secretHash, policyId))
    return at === undefined || this.#ticks - at >= BACKUP_RESUBMIT_TICKS
  }

  markSubmitted(secretHash: Uint8Array, policyId: number): void {
    // Only the latest (hash, policy) matters; older entries are dropped (bounded to one).
    this.#submitted.clear()
    this.#submitted.set(key(secretHash, policyId), this.#ticks)
  }

  /** The backup is on chain (ours or another node's): nothing more to remember. */
  markPublished(): void {
    this.#submitted.clear()
  }
}

function key(secretHash: Uint8Array, policyId: number): string {
  return `${bytesToHex(secretHash)}:${policyId}`
}

function sameCommitments(a: RecoveryBackup, b: RecoveryBackup): boolean {
  return a.shareCommitments.length === b.shareCommitments.length && a.shareCommitments.every((c, i) => bytesEqual(c, b.shareCommitments[i]!))
}
