/** A binary min-heap: the purge queues of a namespace (PROTOCOL §6.3) pop in O(log n). */

export class MinHeap<T> {
  #items: T[] = []
  readonly #less: (a: T, b: T) => boolean

  constructor(less: (a: T, b: T) => boolean) {
    this.#less = less
  }

  get size(): number {
    return this.#items.length
  }

  peek(): T | undefined {
    return this.#items[0]
  }

  push(item: T): void {
    this.#items.push(item)
    this.#siftUp(this.#items.length - 1)
  }

  pop(): T | undefined {
    const items = this.#items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      this.#siftDown(0)
    }
    return top
  }

  /** Replaces the contents with `items` in O(n) (Floyd's heapify). */
  reset(items: T[]): void {
    this.#items = items
    for (let index = (items.length >> 1) - 1; index >= 0; index--) this.#siftDown(index)
  }

  #siftUp(index: number): void {
    const items = this.#items
    const item = items[index]!
    while (index > 0) {
      const parent = (index - 1) >> 1
      if (!this.#less(item, items[parent]!)) break
      items[index] = items[parent]!
      index = parent
    }
    items[index] = item
  }

  #siftDown(index: number): void {
    const items = this.#items
    const item = items[index]!
    for (;;) {
      let child = 2 * index + 1
      if (child >= items.length) break
      if (child + 1 < items.length && this.#less(items[child + 1]!, items[child]!)) child++
      if (!this.#less(items[child]!, item)) break
      items[index] = items[child]!
      index = child
    }
    items[index] = item
  }
}
