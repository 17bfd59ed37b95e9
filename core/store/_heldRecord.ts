/**
 * A record as a namespace holds it (PROTOCOL §6.1), packed for memory (§6.4): fixed fields on
 * one object, the ciphertext in the namespace's pages (`ByteSlab`), the clock inline (one
 * entry, the common case, is a wallet and a number; more are a flat array), wallets shared
 * through the namespace's `WalletInterner`, and the recency links of true LRU on the record
 * itself. Measured on Node 20 (bench/recordOverhead.ts), a record with one clock entry costs
 * 200–212 bytes beside its key and ciphertext; as an object literal with a Map clock, an
 * ArrayBuffer of its own and a recency node, it cost 604–654. The key epoch (§6.1) shares one
 * small integer with the page offset, so it adds no field (a field of its own is 8 bytes a record).
 *
 * Outside, it is a `StoreRecord`: `ciphertext` is a view of the held bytes (a write through it
 * changes the stored value, as writing the stored array did) and `clock` a new Map, made on
 * each read. The packed fields are private, so equality, spreading and JSON see none of them.
 */
import type { Wallet } from '../encoding'
import { ByteSlab } from './_byteSlab'
import type { RecencyLinks } from './_recencyList'
import type { WalletInterner } from './_walletInterner'
import { chargeFor, isKeyEpoch, type StoreRecord } from './storeRecord'
import type { VectorClock } from './vectorClock'

/** A clock of two or more entries: wallet, entry, wallet, entry, … in the source's order. */
type ClockPairs = readonly (Wallet | number)[]

/**
 * `#slot` = offset + key epoch × 2^16. A page offset is below 2^16 (pages are at most 64 KiB,
 * `_byteSlab.ts`; a ciphertext with a buffer of its own has offset 0), and the sum stays an
 * exact integer for every epoch up to 2^32 − 1 (below 2^48). For epochs below 2^15 it is a
 * small integer (V8 Smi), so it costs nothing beyond the offset field it replaces.
 */
const OFFSET_SPAN = 0x1_0000

export class HeldRecord implements StoreRecord, RecencyLinks<HeldRecord> {
  readonly key: string
  readonly updatedAtMs: number
  readonly tombstone: boolean
  readonly ttlMs: number
  #page: Uint8Array
  /** The offset in `#page` and the key epoch, packed (`OFFSET_SPAN`). */
  #slot: number
  readonly #length: number
  /** No entry: `undefined`; one: its wallet, with the entry in `#entry`; more: pairs. */
  readonly #clock: Wallet | ClockPairs | undefined
  readonly #entry: number
  #older: HeldRecord | undefined = undefined
  #newer: HeldRecord | undefined = undefined

  /**
   * Copies `record`'s bytes into `slab` and its clock inline.
   * @throws RangeError for a key epoch outside 0..2^32 − 1, or a tombstone with a key epoch
   *   (§6.7 refuses both on the wire; here they are bugs).
   */
  constructor(record: StoreRecord, slab: ByteSlab, wallets: WalletInterner) {
    const keyEpoch = record.keyEpoch
    if (!isKeyEpoch(keyEpoch)) throw new RangeError('HeldRecord: keyEpoch must be an integer in 0..2^32-1')
    if (record.tombstone && keyEpoch !== 0) throw new RangeError('HeldRecord: a tombstone has keyEpoch 0')
    this.key = record.key
    this.updatedAtMs = record.updatedAtMs
    this.tombstone = record.tombstone
    this.ttlMs = record.ttlMs
    const bytes = record.ciphertext
    const { page, offset } = slab.hold(bytes)
    this.#page = page
    this.#slot = packSlot(offset, keyEpoch)
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
    const offset = this.#slot % OFFSET_SPAN
    return this.#page.subarray(offset, offset + this.#length)
  }

  get keyEpoch(): number {
    return Math.floor(this.#slot / OFFSET_SPAN)
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
    const keyEpoch = this.keyEpoch
    const { page, offset } = slab.hold(this.ciphertext)
    this.#page = page
    this.#slot = packSlot(offset, keyEpoch)
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

function packSlot(offset: number, keyEpoch: number): number {
  // A bug, not input: ByteSlab never places bytes at 64 KiB or beyond.
  if (offset >= OFFSET_SPAN) throw new RangeError('HeldRecord: page offset must be below 2^16')
  return offset + keyEpoch * OFFSET_SPAN
}
