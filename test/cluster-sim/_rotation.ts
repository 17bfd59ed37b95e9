/**
 * One replica's side of a key rotation in the simulation (PROTOCOL §7.7, §6.10): the epochs it
 * holds, and its background re-encryption, whose crypto completes (or throws) only when the
 * schedule says so. So a batch can be suspended on one record while writes, merges and deletes
 * change the store beneath it, which is the case `reencryptBatch` must discard.
 */
import type { KvStore, ReencryptObserver, StoreRecord } from '../../core/store'
import { reencryptSimValue } from './_simValue'

/** What one batch did: the store's answer, and how many of its re-encryptions resolved. */
export interface SimBatch {
  readonly reencrypted: number
  readonly failed: number
  readonly remaining: number
  /** Resolved re-encryptions the store did not keep: their record had changed meanwhile. */
  readonly discarded: number
}

interface PendingCrypto {
  readonly result: Uint8Array
  resolve(result: Uint8Array): void
  reject(error: Error): void
}

export class SimReencryption {
  /** The epochs this node holds (§7.7); it serves, writes and re-encrypts under the newest. */
  readonly keyEpochs = new Set<number>([0])
  readonly #store: KvStore
  readonly #pending: PendingCrypto[] = []
  #batch: Promise<SimBatch> | undefined
  /** While draining, every re-encryption completes at once. */
  #immediate = false
  #resolved = 0

  readonly #observer: ReencryptObserver | undefined

  /** `observer` hears of each record replaced: where the node's §6.8 journal would be told. */
  constructor(store: KvStore, observer?: ReencryptObserver) {
    this.#store = store
    this.#observer = observer
  }

  get servingEpoch(): number {
    return Math.max(...this.keyEpochs)
  }

  /**
   * Starts a batch of at most `limit` records towards the serving epoch, unless one is running
   * (as `sync_tick` never overlaps itself) or the node serves epoch 0 (nothing to move to).
   */
  start(limit: number): Promise<SimBatch> | undefined {
    if (this.#batch !== undefined || this.servingEpoch === 0) return undefined
    const targetEpoch = this.servingEpoch
    const resolvedBefore = this.#resolved
    const batch = this.#store
      .reencryptBatch({ targetEpoch, limit, reencrypt: async (_appId, record) => this.#reencrypt(record, targetEpoch) }, this.#observer)
      .then((result) => ({ ...result, discarded: this.#resolved - resolvedBefore - result.reencrypted }))
    this.#batch = batch
    const done = () => {
      this.#batch = undefined
    }
    batch.then(done, done)
    return batch
  }

  /** Completes the oldest re-encryption in progress, or makes it throw; false if none is. */
  complete(fail: boolean): boolean {
    const pending = this.#pending.shift()
    if (pending === undefined) return false
    if (fail) pending.reject(new Error('simulated re-encryption failure'))
    else {
      this.#resolved++
      pending.resolve(pending.result)
    }
    return true
  }

  /**
   * Every node has finished: completes what is in progress, then runs batches, each
   * re-encryption completing at once, until nothing is left below the serving epoch (or a
   * batch moves nothing, which the caller's checks then report).
   * @returns the batches run, the one in progress first.
   */
  async drain(limit: number): Promise<SimBatch[]> {
    this.#immediate = true
    const batches: SimBatch[] = []
    try {
      while (this.#pending.length > 0) this.complete(false)
      if (this.#batch !== undefined) batches.push(await this.#batch)
      while (this.#store.recordsBelowEpoch(this.servingEpoch) > 0) {
        const batch = await this.start(limit)
        if (batch === undefined) break
        batches.push(batch)
        if (batch.reencrypted === 0 && batch.failed === 0) break
      }
    } finally {
      this.#immediate = false
    }
    return batches
  }

  #reencrypt(record: StoreRecord, targetEpoch: number): Promise<Uint8Array> {
    // Computed from the record as handed over, as the node decrypts those very bytes.
    const result = reencryptSimValue(record.ciphertext, targetEpoch)
    if (this.#immediate) {
      this.#resolved++
      return Promise.resolve(result)
    }
    return new Promise((resolve, reject) => this.#pending.push({ result, resolve, reject }))
  }
}
