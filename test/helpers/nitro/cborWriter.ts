/**
 * A test-side CBOR writer (ATTESTATION.md §6.3): shortest form, the given key order, and
 * the timestamp as `1b` the way AWS writes it. Re-encoding a real payload in its original
 * order reproduces it byte for byte, which lets the tampering tests change one thing at a
 * time. It also writes what the verifier must reject (indefinite maps, duplicate keys,
 * raw pre-encoded bytes), so it validates nothing.
 */
import type { CborItem } from '../../../core/attestation/cbor'

export type CborValue =
  | number
  | bigint
  | string
  | Uint8Array
  | boolean
  | null
  | CborArrayValue
  | CborMapValue
  | CborUint64
  | CborRaw

export class CborArrayValue {
  constructor(
    readonly items: readonly CborValue[],
    readonly indefinite = false,
  ) {}
}

export class CborMapValue {
  constructor(
    readonly entries: readonly (readonly [CborValue, CborValue])[],
    readonly indefinite = false,
  ) {}

  get(key: string): CborValue | undefined {
    return this.entries.find(([entryKey]) => entryKey === key)?.[1]
  }

  /** Replaces the value of `key` in place (order kept), or appends the entry. */
  with(key: string, value: CborValue): CborMapValue {
    const index = this.entries.findIndex(([entryKey]) => entryKey === key)
    const entries = [...this.entries]
    if (index < 0) entries.push([key, value])
    else entries[index] = [key, value]
    return new CborMapValue(entries, this.indefinite)
  }

  without(key: string): CborMapValue {
    return new CborMapValue(
      this.entries.filter(([entryKey]) => entryKey !== key),
      this.indefinite,
    )
  }

  /** Appends an entry even if the key exists (a duplicate). */
  append(key: CborValue, value: CborValue): CborMapValue {
    return new CborMapValue([...this.entries, [key, value]], this.indefinite)
  }

  asIndefinite(indefinite = true): CborMapValue {
    return new CborMapValue(this.entries, indefinite)
  }
}

/** An unsigned integer always written with the 8-byte argument (`1b`). */
export class CborUint64 {
  constructor(readonly value: number) {}
}

/** Bytes written as they are (already-encoded CBOR, or deliberate garbage). */
export class CborRaw {
  constructor(readonly bytes: Uint8Array) {}
}

export function cborHead(major: number, value: number | bigint): Uint8Array {
  const big = BigInt(value)
  const type = major << 5
  if (big < 24n) return Uint8Array.of(type | Number(big))
  if (big < 0x100n) return Uint8Array.of(type | 24, Number(big))
  if (big < 0x1_0000n) return Uint8Array.of(type | 25, Number(big >> 8n), Number(big & 0xffn))
  if (big < 0x1_0000_0000n) {
    const out = new Uint8Array(5)
    out[0] = type | 26
    new DataView(out.buffer).setUint32(1, Number(big))
    return out
  }
  const out = new Uint8Array(9)
  out[0] = type | 27
  new DataView(out.buffer).setBigUint64(1, big)
  return out
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

export function encodeCbor(value: CborValue): Uint8Array {
  if (value === null) return Uint8Array.of(0xf6)
  if (value === false) return Uint8Array.of(0xf4)
  if (value === true) return Uint8Array.of(0xf5)
  if (typeof value === 'number' || typeof value === 'bigint') {
    const big = BigInt(value)
    return big >= 0n ? cborHead(0, big) : cborHead(1, -1n - big)
  }
  if (typeof value === 'string') {
    const bytes = new TextEncoder().encode(value)
    return concat([cborHead(3, bytes.length), bytes])
  }
  if (value instanceof Uint8Array) return concat([cborHead(2, value.length), value])
  if (value instanceof CborUint64) {
    const out = new Uint8Array(9)
    out[0] = 0x1b
    new DataView(out.buffer).setBigUint64(1, BigInt(value.value))
    return out
  }
  if (value instanceof CborRaw) return value.bytes
  if (value instanceof CborArrayValue) {
    const items = value.items.map(encodeCbor)
    return value.indefinite
      ? concat([Uint8Array.of(0x9f), ...items, Uint8Array.of(0xff)])
      : concat([cborHead(4, items.length), ...items])
  }
  const entries = value.entries.flatMap(([key, entry]) => [encodeCbor(key), encodeCbor(entry)])
  return value.indefinite
    ? concat([Uint8Array.of(0xbf), ...entries, Uint8Array.of(0xff)])
    : concat([cborHead(5, value.entries.length), ...entries])
}

/** Converts a decoded item back into a writable value, keeping order and indefiniteness. */
export function fromDecoded(item: CborItem): CborValue {
  switch (item.type) {
    case 'integer':
    case 'bytes':
    case 'text':
    case 'simple':
      return item.type === 'bytes' ? item.value.slice() : item.value
    case 'array':
      return new CborArrayValue(item.items.map(fromDecoded), item.indefinite)
    case 'map':
      return new CborMapValue(
        item.entries.map(([key, value]) => [fromDecoded(key), fromDecoded(value)] as const),
        item.indefinite,
      )
    case 'tag':
      throw new Error('tags are not modelled')
  }
}
