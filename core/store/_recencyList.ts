/**
 * Records in recency order for true LRU (PROTOCOL §6.4): a doubly linked list threaded
 * through the records themselves, so that adding, moving, removing and finding the oldest are
 * all O(1) and cost a record two fields, not a node and a map entry of its own (about 80
 * bytes on Node 20). (Iterating a Map or Set from its start is not O(1): V8 walks over the
 * holes that deletions leave at the front, which made eviction O(n) in a namespace of 100 000
 * keys.)
 */

/** The two links a record carries for the list; only the list sets them. */
export interface RecencyLinks<T> {
  recencyOlder: T | undefined
  recencyNewer: T | undefined
}

export class RecencyList<T extends RecencyLinks<T>> {
  #oldest: T | undefined
  #newest: T | undefined

  /** Makes `node` the most recent, adding it if absent. */
  add(node: T): void {
    this.delete(node)
    node.recencyOlder = this.#newest
    if (this.#newest === undefined) this.#oldest = node
    else this.#newest.recencyNewer = node
    this.#newest = node
  }

  /** @returns whether `node` was in the list. Its links are cleared, so it holds no other record. */
  delete(node: T): boolean {
    if (!this.has(node)) return false
    const { recencyOlder: older, recencyNewer: newer } = node
    if (older === undefined) this.#oldest = newer
    else older.recencyNewer = newer
    if (newer === undefined) this.#newest = older
    else newer.recencyOlder = older
    node.recencyOlder = undefined
    node.recencyNewer = undefined
    return true
  }

  /**
   * Puts `next` where `node` is, so that replacing a record's copy is not a use (a background
   * re-encryption, §6.10). `node` must be in the list and `next` not; `node`'s links are cleared.
   */
  replace(node: T, next: T): void {
    const { recencyOlder: older, recencyNewer: newer } = node
    next.recencyOlder = older
    next.recencyNewer = newer
    if (older === undefined) this.#oldest = next
    else older.recencyNewer = next
    if (newer === undefined) this.#newest = next
    else newer.recencyOlder = next
    node.recencyOlder = undefined
    node.recencyNewer = undefined
  }

  has(node: T): boolean {
    return node.recencyOlder !== undefined || node.recencyNewer !== undefined || this.#oldest === node
  }

  /** The least recently used record. */
  oldest(): T | undefined {
    return this.#oldest
  }
}
