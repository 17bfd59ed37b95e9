/**
 * Keys in recency order for true LRU (PROTOCOL §6.4): a doubly linked list indexed by a Map,
 * so that adding, moving, removing and finding the oldest key are all O(1). (Iterating a
 * Map or Set from its start is not: V8 walks over the holes that deletions leave at the
 * front, which made eviction O(n) in a namespace of 100 000 keys.)
 */

interface Node {
  readonly key: string
  older: Node | undefined
  newer: Node | undefined
}

export class RecencyList {
  readonly #nodes = new Map<string, Node>()
  #oldest: Node | undefined
  #newest: Node | undefined

  /** Makes `key` the most recent, adding it if absent. */
  add(key: string): void {
    this.delete(key)
    const node: Node = { key, older: this.#newest, newer: undefined }
    if (this.#newest === undefined) this.#oldest = node
    else this.#newest.newer = node
    this.#newest = node
    this.#nodes.set(key, node)
  }

  /** @returns whether `key` was present. */
  delete(key: string): boolean {
    const node = this.#nodes.get(key)
    if (node === undefined) return false
    this.#nodes.delete(key)
    if (node.older === undefined) this.#oldest = node.newer
    else node.older.newer = node.newer
    if (node.newer === undefined) this.#newest = node.older
    else node.newer.older = node.older
    return true
  }

  /** The least recently used key. */
  oldest(): string | undefined {
    return this.#oldest?.key
  }
}
