/**
 * The strict CBOR decoder of ATTESTATION.md §2 step 2, shared by the envelope (step 3) and
 * the payload (step 4). It decodes only the subset Nitro documents use and fails closed on
 * everything else: no floats, no `undefined`, no chunked strings, no tags except one at the
 * very top (the COSE tag, judged by step 3), no duplicate map keys at any depth.
 *
 * It is written by hand (ATTESTATION.md §4) because the libraries keep the last value of a
 * duplicate key, skip UTF-8 validation or overflow the stack on deep nesting. Every item
 * records its byte range, and byte strings are views of the input, so the signatures of
 * steps 6–7 are checked over the exact received bytes and nothing is ever re-encoded.
 */
import { parseUtf8 } from '../encoding'
import { AttestationError } from './errors'

/** ATTESTATION.md §2 step 2 limits. */
export const CBOR_MAX_DEPTH = 8
export const CBOR_MAX_ITEMS = 512

interface CborRange {
  /** Offset of the item's first byte (its header) in the decoded input. */
  readonly start: number
  /** Offset just after the item. */
  readonly end: number
}

/** A map key: text or integer (ATTESTATION.md §2 step 2). */
export type CborKey = CborText | CborInteger

/** An integer; a value outside ±(2^53−1) stays `bigint` so it is never rounded. */
export interface CborInteger extends CborRange {
  readonly type: 'integer'
  readonly value: number | bigint
}
export interface CborBytes extends CborRange {
  readonly type: 'bytes'
  /** A view of the input: the exact content bytes. */
  readonly value: Uint8Array
}
export interface CborText extends CborRange {
  readonly type: 'text'
  readonly value: string
  /** The UTF-8 length in bytes. */
  readonly byteLength: number
}
export interface CborArray extends CborRange {
  readonly type: 'array'
  readonly items: readonly CborItem[]
  readonly indefinite: boolean
}
export interface CborMap extends CborRange {
  readonly type: 'map'
  /** Entries in input order; keys are unique by type and value. */
  readonly entries: readonly (readonly [CborKey, CborItem])[]
  readonly indefinite: boolean
}
export interface CborSimple extends CborRange {
  readonly type: 'simple'
  readonly value: boolean | null
}
/** Only ever the top item, and only when the caller allows it (the COSE tag). */
export interface CborTag extends CborRange {
  readonly type: 'tag'
  readonly tag: number | bigint
  readonly item: CborItem
}

export type CborItem = CborInteger | CborBytes | CborText | CborArray | CborMap | CborSimple | CborTag

const MAJOR_UNSIGNED = 0
const MAJOR_NEGATIVE = 1
const MAJOR_BYTES = 2
const MAJOR_TEXT = 3
const MAJOR_ARRAY = 4
const MAJOR_MAP = 5
const MAJOR_TAG = 6
const INDEFINITE = 31
const BREAK = 0xff
const TWO_POW_32 = 0x1_0000_0000

function malformed(): AttestationError {
  return new AttestationError('ATTESTATION_CBOR_MALFORMED')
}

class Decoder {
  private offset = 0
  private items = 0

  constructor(
    private readonly input: Uint8Array,
    private readonly allowTopTag: boolean,
  ) {}

  decodeAll(): CborItem {
    const item = this.readItem(1)
    if (this.offset !== this.input.length) throw malformed() // trailing bytes or a stray `ff`
    return item
  }

  private byte(): number {
    if (this.offset >= this.input.length) throw malformed()
    return this.input[this.offset++]!
  }

  private remaining(): number {
    return this.input.length - this.offset
  }

  /**
   * The argument of a header (RFC 8949 §3). Non-shortest forms are accepted because nothing
   * is re-encoded (ATTESTATION.md §2 step 2); 28–30 are reserved, 31 is the caller's case.
   */
  private readArgument(info: number): number | bigint {
    if (info < 24) return info
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0
    if (size === 0 || size > this.remaining()) throw malformed()
    const view = new DataView(this.input.buffer, this.input.byteOffset + this.offset, size)
    this.offset += size
    if (size === 1) return view.getUint8(0)
    if (size === 2) return view.getUint16(0)
    if (size === 4) return view.getUint32(0)
    const high = view.getUint32(0)
    const low = view.getUint32(4)
    // 2^53 − 1 is the largest exact number: anything with high ≥ 2^21 stays bigint.
    return high < 0x20_0000 ? high * TWO_POW_32 + low : view.getBigUint64(0)
  }

  /** A length or count, which must fit in what is left of the input (checked by callers). */
  private readLength(info: number): number {
    const value = this.readArgument(info)
    if (typeof value === 'bigint' || value > this.remaining()) throw malformed()
    return value
  }

  private countItem(): void {
    if (++this.items > CBOR_MAX_ITEMS) throw malformed()
  }

  private readItem(depth: number): CborItem {
    if (depth > CBOR_MAX_DEPTH) throw malformed()
    this.countItem()
    const start = this.offset
    const initial = this.byte()
    const major = initial >> 5
    const info = initial & 0x1f
    if (info === INDEFINITE && major !== MAJOR_ARRAY && major !== MAJOR_MAP) {
      throw malformed() // chunked strings, indefinite integers/tags and a stray break
    }
    switch (major) {
      case MAJOR_UNSIGNED:
        return { type: 'integer', value: this.readArgument(info), start, end: this.offset }
      case MAJOR_NEGATIVE: {
        const argument = this.readArgument(info)
        const value = typeof argument === 'number' && argument < Number.MAX_SAFE_INTEGER ? -1 - argument : -1n - BigInt(argument)
        return { type: 'integer', value, start, end: this.offset }
      }
      case MAJOR_BYTES: {
        const length = this.readLength(info)
        const value = this.input.subarray(this.offset, this.offset + length)
        this.offset += length
        return { type: 'bytes', value, start, end: this.offset }
      }
      case MAJOR_TEXT: {
        const length = this.readLength(info)
        const value = parseUtf8(this.input.subarray(this.offset, this.offset + length))
        if (value === undefined) throw malformed()
        this.offset += length
        return { type: 'text', value, byteLength: length, start, end: this.offset }
      }
      case MAJOR_ARRAY:
        return this.readArray(info, depth, start)
      case MAJOR_MAP:
        return this.readMap(info, depth, start)
      case MAJOR_TAG: {
        if (!this.allowTopTag || start !== 0) throw malformed()
        const tag = this.readArgument(info)
        const item = this.readItem(depth)
        return { type: 'tag', tag, item, start, end: this.offset }
      }
      default:
        return this.readSimple(info, start)
    }
  }

  private readSimple(info: number, start: number): CborSimple {
    // Only false (20), true (21) and null (22): no undefined, no floats, no other simple.
    if (info === 20 || info === 21) return { type: 'simple', value: info === 21, start, end: this.offset }
    if (info === 22) return { type: 'simple', value: null, start, end: this.offset }
    throw malformed()
  }

  /** True, and the break consumed, when an indefinite container ends here. */
  private atBreak(): boolean {
    if (this.offset >= this.input.length) throw malformed()
    if (this.input[this.offset] !== BREAK) return false
    this.offset++
    return true
  }

  private readArray(info: number, depth: number, start: number): CborArray {
    const items: CborItem[] = []
    if (info === INDEFINITE) {
      while (!this.atBreak()) items.push(this.readItem(depth + 1))
    } else {
      const count = this.readLength(info) // each item takes at least one byte
      for (let index = 0; index < count; index++) items.push(this.readItem(depth + 1))
    }
    return { type: 'array', items, indefinite: info === INDEFINITE, start, end: this.offset }
  }

  private readMap(info: number, depth: number, start: number): CborMap {
    const entries: (readonly [CborKey, CborItem])[] = []
    const seen = new Set<string>()
    const readEntry = (): void => {
      const key = this.readItem(depth + 1)
      if (key.type !== 'integer' && key.type !== 'text') throw malformed()
      // Same type and value is a duplicate, whatever the encoding (ATTESTATION.md §2 step 2).
      const identity = key.type === 'text' ? `t${key.value}` : `i${key.value.toString()}`
      if (seen.has(identity)) throw new AttestationError('ATTESTATION_CBOR_DUPLICATE_KEY')
      seen.add(identity)
      entries.push([key, this.readItem(depth + 1)])
    }
    if (info === INDEFINITE) {
      while (!this.atBreak()) readEntry()
    } else {
      const count = this.readArgument(info)
      // Each entry takes at least two bytes.
      if (typeof count === 'bigint' || count > this.remaining() / 2) throw malformed()
      for (let index = 0; index < count; index++) readEntry()
    }
    return { type: 'map', entries, indefinite: info === INDEFINITE, start, end: this.offset }
  }
}

/**
 * Decodes exactly one CBOR item that spans all of `input`.
 * @param allowTopTag accept one tag around the top item (the envelope, step 3); every other
 *   tag is malformed.
 * @throws AttestationError `ATTESTATION_CBOR_MALFORMED` or `ATTESTATION_CBOR_DUPLICATE_KEY`.
 */
export function decodeCbor(input: Uint8Array, allowTopTag = false): CborItem {
  return new Decoder(input, allowTopTag).decodeAll()
}
