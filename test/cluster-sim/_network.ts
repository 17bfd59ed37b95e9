/**
 * The simulated network between replicas: an ordered queue of in-flight `/sync` bodies that
 * the schedule delivers, drops, duplicates, delays and reorders, and a partition map. It
 * holds no timers: a message moves only when the schedule says so, which keeps a run a pure
 * function of its schedule.
 */

/** One in-flight request body: the §4.3 inner payload, serialized as it would travel. */
export interface SimMessage {
  readonly id: number
  readonly from: number
  readonly to: number
  readonly body: string
}

export class SimNetwork {
  readonly #queue: SimMessage[] = []
  /** The partition side of each node; two nodes talk iff they are on the same side and their link is not cut. */
  #sides: number[]
  /** Single links that are down (`a:b`, a < b): partitions that need not be transitive. */
  readonly #cuts = new Set<string>()
  #nextId = 1

  constructor(nodes: number) {
    this.#sides = new Array<number>(nodes).fill(0)
  }

  get inFlight(): readonly SimMessage[] {
    return this.#queue
  }

  connected(a: number, b: number): boolean {
    return this.#sides[a] === this.#sides[b] && !this.#cuts.has(linkName(a, b))
  }

  /** Takes the link between `a` and `b` down (both directions); other links stay as they are. */
  cut(a: number, b: number): void {
    if (a !== b) this.#cuts.add(linkName(a, b))
  }

  /** Brings the link between `a` and `b` back up. */
  link(a: number, b: number): void {
    this.#cuts.delete(linkName(a, b))
  }

  /** Splits the nodes by `sides` (one label per node, cycled if shorter). */
  partition(sides: readonly number[]): void {
    this.#sides = this.#sides.map((_, node) => sides[node % sides.length] ?? 0)
  }

  heal(): void {
    this.#sides.fill(0)
    this.#cuts.clear()
  }

  /** Queues a body; returns its id. */
  send(from: number, to: number, body: string): number {
    const id = this.#nextId++
    this.#queue.push({ id, from, to, body })
    return id
  }

  /** The message at `pick` (taken modulo the queue length), left in flight. */
  peek(pick: number): SimMessage | undefined {
    return this.#queue[pick % Math.max(this.#queue.length, 1)]
  }

  /** Removes and returns the message at `pick` (taken modulo the queue length). */
  take(pick: number): SimMessage | undefined {
    if (this.#queue.length === 0) return undefined
    return this.#queue.splice(pick % this.#queue.length, 1)[0]
  }

  /** A second copy of the message at `pick`, with an id of its own, at the back of the queue. */
  duplicate(pick: number): boolean {
    const message = this.peek(pick)
    if (message === undefined) return false
    this.send(message.from, message.to, message.body)
    return true
  }

  /** Moves the message at `pick` to the back of the queue: everything else overtakes it. */
  delay(pick: number): void {
    const message = this.take(pick)
    if (message !== undefined) this.#queue.push(message)
  }

  /** Swaps two in-flight messages. */
  reorder(pick: number, other: number): void {
    const length = this.#queue.length
    if (length < 2) return
    const [i, j] = [pick % length, other % length]
    ;[this.#queue[i], this.#queue[j]] = [this.#queue[j]!, this.#queue[i]!]
  }
}

const linkName = (a: number, b: number): string => (a < b ? `${a}:${b}` : `${b}:${a}`)
