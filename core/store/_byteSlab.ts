/**
 * Where a namespace keeps its ciphertexts (PROTOCOL §6.4 memory): small ones packed into
 * shared pages, so that a record does not pay an ArrayBuffer of its own (about 175 bytes of
 * buffer, view and backing-store bookkeeping per value, measured on Node 20, more than a
 * 128-byte ciphertext itself).
 *
 * Pages are append-only: bytes once placed are never moved or overwritten in their page, so a
 * view handed out by a read keeps showing its record's bytes even after the record is replaced
 * (the view keeps its page alive). Released bytes are dead until the namespace evacuates every
 * record into fresh pages (`restart`, then `hold` again), which it does once the dead bytes pass
 * half the live ones; so pages hold at most about 1.5 × the live ciphertext bytes.
 */

/** Largest ciphertext placed in a page; a longer one gets a buffer of its own (≤ 17 % extra). */
export const SLAB_MAX_BYTES = 1024
/** Pages grow with the namespace (1/8 of its live bytes) between these sizes. */
const PAGE_MIN_BYTES = 256
const PAGE_MAX_BYTES = 65_536

const EMPTY = new Uint8Array(0)

/** Where one ciphertext is held: `page[offset, offset + length)`. */
export interface Placement {
  readonly page: Uint8Array
  readonly offset: number
}

export class ByteSlab {
  #page: Uint8Array = EMPTY
  #used = 0
  #liveBytes = 0
  #deadBytes = 0

  /** Whether a ciphertext of `length` bytes lives in a page (and so counts here). */
  static inPage(length: number): boolean {
    return length > 0 && length <= SLAB_MAX_BYTES
  }

  /** Bytes of held ciphertexts in pages. */
  get liveBytes(): number {
    return this.#liveBytes
  }

  /** Bytes in pages that no held record uses: released ones and the unused ends of full pages. */
  get deadBytes(): number {
    return this.#deadBytes
  }

  /** Whether the namespace should evacuate (`restart`, then `hold` every record again). */
  get wantsCompaction(): boolean {
    return this.#deadBytes > this.#liveBytes / 2 + PAGE_MIN_BYTES
  }

  /** Copies `bytes` into a page, or into a buffer of their own when long; empty needs nothing. */
  hold(bytes: Uint8Array): Placement {
    const length = bytes.length
    if (length === 0) return { page: EMPTY, offset: 0 }
    if (!ByteSlab.inPage(length)) return { page: bytes.slice(), offset: 0 }
    if (this.#used + length > this.#page.length) this.#openPage(length)
    const offset = this.#used
    this.#page.set(bytes, offset)
    this.#used += length
    this.#liveBytes += length
    return { page: this.#page, offset }
  }

  /** A held ciphertext of `length` bytes is no longer used. */
  release(length: number): void {
    if (!ByteSlab.inPage(length)) return
    this.#liveBytes -= length
    this.#deadBytes += length
  }

  /** Forgets every page; the caller then holds each of its records' bytes again. */
  restart(): void {
    this.#page = EMPTY
    this.#used = 0
    this.#liveBytes = 0
    this.#deadBytes = 0
  }

  #openPage(length: number): void {
    this.#deadBytes += this.#page.length - this.#used
    const size = Math.max(length, Math.min(PAGE_MAX_BYTES, Math.max(PAGE_MIN_BYTES, this.#liveBytes >> 3)))
    this.#page = new Uint8Array(size)
    this.#used = 0
  }
}
