/**
 * A record as a namespace holds it (PROTOCOL §6.1), packed for memory (§6.4): fixed fields on
 * one object, the ciphertext in the namespace's pages (`ByteSlab`), the clock inline (one
 * entry, the common case, is a wallet and a number; more are a flat array), wallets shared
 * through the namespace's `WalletInterner`, and the recency links of true LRU on the record
 * itself. Measured on Node 20 (bench/recordOverhead.ts), a record with one clock entry costs
 * 200–212 bytes beside its key and ciphertext; as an object literal with a Map clock, an
 * ArrayBuffer of its own and a recency node, it cost 604–654.
 *
 * Outside, it is a `StoreRecord`: `ciphertext` is a view of the held bytes (a write through it
 * changes the stored value, as writing the stored array did) and `clock` a new Map, made on
 * each read. The packed fields are private, so equality, spreading and JSON see none of them.
 */
import type { Wallet } from '../encoding'
import { ByteSlab } from './_byteSlab'
import type { RecencyLinks } from './_recencyList'
import type { WalletInterner } from './_walletInterner'
import { chargeFor, type StoreRecord } from './storeRecord'
import type { VectorClock } from './vectorClock'

/** A clock of two or more entries: wallet, entry, wallet, entry, … in the source's order. */
type ClockPairs = readonly (Wallet | number)[]

export class HeldRecord implements StoreRecord, RecencyLinks<HeldRecord> {
  readonly key: string
  readonly updatedAtMs: number
  readonly tombstone: boolean
  readonly ttlMs: number
  #page: Uint8Array
  #offset: number
  readonly #length: number
  /** No entry: `undefined`; one: its wallet, with the entry in `#entry`; more: pairs. */
  readonly #clock: Wallet | ClockPairs | undefined
  readonly #entry: number
  #older: HeldRecord | undefined = undefined
  #newer: HeldRecord | undefined = undefined

  /** Copies `record`'s bytes into `slab` and its clock inline. */
  constructor(record: StoreRecord, slab: ByteSlab, wallets: WalletInterner) {
    this.key = record.key
    this.updatedAtMs = record.updatedAtMs
    this.tombstone = record.tombstone
    this.ttlMs = record.ttlMs
    const bytes = record.ciphertext
    const { page, offset } = slab.hold(bytes)
    this.#page = page
    this.#offset = offset
    this.#length = bytes.length
    let clock: Wallet | ClockPairs | undefined
    let entry = 0
    if (record.clock.size === 1) {
      for (const [wallet, value] of record.clock) {
        clock = wallets.intern(wallet)
        entry = value
      }
    } else if (record.clock.size > 1) {
      const pairs: (Wallet | number)[] = []
      for (const [wallet, value] of record.clock) pairs.push(wallets.intern(wallet), value)
      clock = pairs
    }
    this.#clock = clock
    this.#entry = entry
  }

  /** A view of the held bytes (`subarray`: no copy). */
  get ciphertext(): Uint8Array {
    return this.#page.subarray(this.#offset, this.#offset + this.#length)
  }

  /** A new Map of the clock's entries, in the order the record came with. */
  get clock(): VectorClock {
    const clock = new Map<Wallet, number>()
    const packed = this.#clock
    if (typeof packed === 'string') clock.set(packed, this.#entry)
    else if (packed !== undefined) for (let index = 0; index < packed.length; index += 2) clock.set(packed[index] as Wallet, packed[index + 1] as number)
    return clock
  }

  get ciphertextLength(): number {
    return this.#length
  }

  get clockSize(): number {
    const packed = this.#clock
    return packed === undefined ? 0 : typeof packed === 'string' ? 1 : packed.length / 2
  }

  /** §6.4 `chargedBytes`, without building the clock or a view. */
  charged(): number {
    return chargeFor(this.key, this.#length, this.clockSize)
  }

  /** Holds the bytes again in `slab`'s fresh pages, after `slab.restart()` (a page ciphertext only). */
  relocate(slab: ByteSlab): void {
    if (!ByteSlab.inPage(this.#length)) return
    const { page, offset } = slab.hold(this.ciphertext)
    this.#page = page
    this.#offset = offset
  }

  get recencyOlder(): HeldRecord | undefined {
    return this.#older
  }
  set recencyOlder(record: HeldRecord | undefined) {
    this.#older = record
  }
  get recencyNewer(): HeldRecord | undefined {
    return this.#newer
  }
  set recencyNewer(record: HeldRecord | undefined) {
    this.#newer = record
  }
}
