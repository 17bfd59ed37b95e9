/**
 * How many non-tombstone records each key epoch holds, over every namespace of a store
 * (PROTOCOL §6.10): re-encryption asks how many are left below its target after every batch,
 * and a node reports its migration once none is, so the answer must not cost a scan. The
 * namespaces update it on every insert, replace and removal; at most two epochs are live at
 * once (§7.7), so a question costs O(epochs held), a handful.
 */
export class EpochCounts {
  readonly #counts = new Map<number, number>()

  add(keyEpoch: number): void {
    this.#counts.set(keyEpoch, (this.#counts.get(keyEpoch) ?? 0) + 1)
  }

  remove(keyEpoch: number): void {
    const count = (this.#counts.get(keyEpoch) ?? 0) - 1
    // A bug, not input: every removal follows the add of the same record.
    if (count < 0) throw new RangeError(`EpochCounts: no record of epoch ${keyEpoch} to remove`)
    if (count === 0) this.#counts.delete(keyEpoch)
    else this.#counts.set(keyEpoch, count)
  }

  /** Non-tombstone records whose key epoch is below `epoch`. */
  below(epoch: number): number {
    let count = 0
    for (const [keyEpoch, records] of this.#counts) if (keyEpoch < epoch) count += records
    return count
  }

  clear(): void {
    this.#counts.clear()
  }
}
