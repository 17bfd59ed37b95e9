/**
 * A strict DER reader and a minimal DER writer (X.690 §10), for the narrow X.509, PKCS#10
 * and ECDSA profiles Nova KMS handles. The reader is strict by construction: definite,
 * minimal lengths; low-tag-number form only; BOOLEAN as 00/ff; minimal INTEGERs; and every
 * element must exactly fill its parent. It returns views of the input, so signatures can be
 * checked over the exact received bytes (ATTESTATION.md §2 step 6c, PROTOCOL §8.4).
 */
import { concatBytes } from './bytes'

/** A DER decoding failure. Callers map it to their own error code; it names no content. */
export class DerError extends Error {
  override readonly name = 'DerError'
}

export const DerTag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const

/** One element: `tlv` is the whole encoding, `content` its value; both are input views. */
export interface DerElement {
  readonly tag: number
  readonly tlv: Uint8Array
  readonly content: Uint8Array
}

/**
 * Reads the element that starts at `offset`.
 * @throws DerError on a truncated, indefinite, non-minimal or high-tag-number encoding.
 */
export function readDerElement(input: Uint8Array, offset = 0): DerElement {
  if (offset + 2 > input.length) throw new DerError('truncated header')
  const tag = input[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported')
  let lengthByte = input[offset + 1]!
  let cursor = offset + 2
  let length: number
  if (lengthByte < 0x80) {
    length = lengthByte
  } else {
    const octets = lengthByte & 0x7f
    if (octets === 0) throw new DerError('indefinite length')
    if (octets > 4) throw new DerError('length too large')
    if (cursor + octets > input.length) throw new DerError('truncated length')
    if (input[cursor] === 0) throw new DerError('non-minimal length')
    length = 0
    for (let index = 0; index < octets; index++) length = length * 256 + input[cursor + index]!
    if (length < 0x80) throw new DerError('non-minimal length')
    cursor += octets
  }
  if (cursor + length > input.length) throw new DerError('truncated content')
  return {
    tag,
    tlv: input.subarray(offset, cursor + length),
    content: input.subarray(cursor, cursor + length),
  }
}

/**
 * Reads exactly one element that spans the whole input (no trailing bytes).
 * @throws DerError
 */
export function parseDer(input: Uint8Array): DerElement {
  const element = readDerElement(input, 0)
  if (element.tlv.length !== input.length) throw new DerError('trailing bytes')
  return element
}

/**
 * The children of a constructed element, which must exactly fill its content.
 * @throws DerError
 */
export function readDerChildren(parent: DerElement): DerElement[] {
  if ((parent.tag & 0x20) === 0) throw new DerError('primitive element has no children')
  const children: DerElement[] = []
  let offset = 0
  while (offset < parent.content.length) {
    const child = readDerElement(parent.content, offset)
    children.push(child)
    offset += child.tlv.length
  }
  return children
}

/** Asserts the tag, then returns the element (for fluent parsing). @throws DerError */
export function expectDerTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined) throw new DerError(`missing ${what}`)
  if (element.tag !== tag) throw new DerError(`unexpected tag for ${what}`)
  return element
}

/** The children of a SEQUENCE. @throws DerError */
export function readDerSequence(element: DerElement | undefined, what: string): DerElement[] {
  return readDerChildren(expectDerTag(element, DerTag.SEQUENCE, what))
}

/**
 * The content of a minimal INTEGER, sign byte included. @throws DerError if it is empty or
 * not minimal.
 */
export function readDerInteger(element: DerElement | undefined, what: string): Uint8Array {
  const { content } = expectDerTag(element, DerTag.INTEGER, what)
  if (content.length === 0) throw new DerError(`empty ${what}`)
  if (content.length > 1) {
    const first = content[0]!
    const second = content[1]!
    if ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)) {
      throw new DerError(`non-minimal ${what}`)
    }
  }
  return content
}

/**
 * A non-negative INTEGER as unsigned big-endian bytes (the sign byte removed).
 * @throws DerError if it is negative or not minimal.
 */
export function readDerUnsignedInteger(element: DerElement | undefined, what: string): Uint8Array {
  const content = readDerInteger(element, what)
  if (content[0]! >= 0x80) throw new DerError(`negative ${what}`)
  return content[0] === 0 && content.length > 1 ? content.subarray(1) : content
}

/** A small INTEGER (≤ 2^31) as a number. @throws DerError */
export function readDerSmallInteger(element: DerElement | undefined, what: string): number {
  const bytes = readDerUnsignedInteger(element, what)
  if (bytes.length > 4) throw new DerError(`${what} too large`)
  let value = 0
  for (const byte of bytes) value = value * 256 + byte
  return value
}

/** A DER BOOLEAN: exactly one byte, 00 or ff. @throws DerError */
export function readDerBoolean(element: DerElement | undefined, what: string): boolean {
  const { content } = expectDerTag(element, DerTag.BOOLEAN, what)
  if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) {
    throw new DerError(`invalid ${what}`)
  }
  return content[0] === 0xff
}

/** The bytes of a BIT STRING that has no unused bits. @throws DerError */
export function readDerBitStringBytes(element: DerElement | undefined, what: string): Uint8Array {
  const { content } = expectDerTag(element, DerTag.BIT_STRING, what)
  if (content.length === 0 || content[0] !== 0) throw new DerError(`invalid ${what}`)
  return content.subarray(1)
}

/** An OBJECT IDENTIFIER in dotted form. @throws DerError */
export function readDerOid(element: DerElement | undefined, what: string): string {
  const { content } = expectDerTag(element, DerTag.OID, what)
  if (content.length === 0 || content[content.length - 1]! >= 0x80) throw new DerError(`invalid ${what}`)
  const arcs: number[] = []
  let value = 0
  let started = false
  for (const byte of content) {
    if (!started && byte === 0x80) throw new DerError(`non-minimal ${what}`)
    started = (byte & 0x80) !== 0
    value = value * 128 + (byte & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError(`${what} arc too large`)
    if (!started) {
      arcs.push(value)
      value = 0
    }
  }
  const first = arcs[0]!
  const head = first < 40 ? [0, first] : first < 80 ? [1, first - 40] : [2, first - 80]
  return [...head, ...arcs.slice(1)].join('.')
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/

/**
 * A UTCTime (YY ≥ 50 means 19YY, RFC 5280 §4.1.2.5.1) or GeneralizedTime, in the RFC 5280
 * profile: seconds present, `Z`, no fraction. Returns Unix seconds. @throws DerError
 */
export function readDerTime(element: DerElement | undefined, what: string): number {
  if (element === undefined) throw new DerError(`missing ${what}`)
  let text = ''
  for (const byte of element.content) text += String.fromCharCode(byte)
  let parts: RegExpExecArray | null
  let year: number
  if (element.tag === DerTag.UTC_TIME && (parts = UTC_TIME.exec(text)) !== null) {
    const yy = Number(parts[1])
    year = yy >= 50 ? 1900 + yy : 2000 + yy
  } else if (element.tag === DerTag.GENERALIZED_TIME && (parts = GENERALIZED_TIME.exec(text)) !== null) {
    year = Number(parts[1])
  } else {
    throw new DerError(`invalid ${what}`)
  }
  const [month, day, hour, minute, second] = parts.slice(2, 7).map(Number) as [number, number, number, number, number]
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new DerError(`invalid ${what}`)
  }
  // Not Date.UTC(year, …): it maps years 0–99 to 1900–1999, which would misread a
  // GeneralizedTime such as 00490101000000Z as 1949.
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  if (date.getUTCDate() !== day) throw new DerError(`invalid ${what}`)
  return date.getTime() / 1000
}

// ---------------------------------------------------------------------------------------
// Writer

function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length)
  const octets: number[] = []
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256)
  return Uint8Array.of(0x80 | octets.length, ...octets)
}

/** One TLV. */
export function derTlv(tag: number, content: Uint8Array): Uint8Array {
  const length = encodeLength(content.length)
  const out = new Uint8Array(1 + length.length + content.length)
  out[0] = tag
  out.set(length, 1)
  out.set(content, 1 + length.length)
  return out
}

export function derSequence(...children: readonly Uint8Array[]): Uint8Array {
  return derTlv(DerTag.SEQUENCE, concatBytes(...children))
}

/** A SET of already DER-sorted (or single) children. */
export function derSet(...children: readonly Uint8Array[]): Uint8Array {
  return derTlv(DerTag.SET, concatBytes(...children))
}

/** A non-negative INTEGER from unsigned big-endian bytes (made minimal, sign byte added). */
export function derUnsignedInteger(unsigned: Uint8Array): Uint8Array {
  let start = 0
  while (start < unsigned.length - 1 && unsigned[start] === 0) start++
  const trimmed = unsigned.subarray(start)
  const content = trimmed.length === 0 ? Uint8Array.of(0) : trimmed[0]! >= 0x80 ? concatBytes(Uint8Array.of(0), trimmed) : trimmed
  return derTlv(DerTag.INTEGER, content)
}

export function derSmallInteger(value: number): Uint8Array {
  const bytes: number[] = []
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256)
  return derUnsignedInteger(Uint8Array.from(bytes))
}

export function derBoolean(value: boolean): Uint8Array {
  return derTlv(DerTag.BOOLEAN, Uint8Array.of(value ? 0xff : 0x00))
}

export function derNull(): Uint8Array {
  return Uint8Array.of(DerTag.NULL, 0)
}

/** An OBJECT IDENTIFIER from dotted form. */
export function derOid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map(Number)
  const body: number[] = []
  const pushArc = (arc: number): void => {
    const groups: number[] = [arc % 128]
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) groups.unshift(0x80 | (rest % 128))
    body.push(...groups)
  }
  pushArc(arcs[0]! * 40 + arcs[1]!)
  for (const arc of arcs.slice(2)) pushArc(arc)
  return derTlv(DerTag.OID, Uint8Array.from(body))
}

export function derOctetString(bytes: Uint8Array): Uint8Array {
  return derTlv(DerTag.OCTET_STRING, bytes)
}

/** A BIT STRING with no unused bits. */
export function derBitString(bytes: Uint8Array): Uint8Array {
  return derTlv(DerTag.BIT_STRING, concatBytes(Uint8Array.of(0), bytes))
}

export function derUtf8String(text: string): Uint8Array {
  return derTlv(DerTag.UTF8_STRING, new TextEncoder().encode(text))
}

export function derIa5String(text: string): Uint8Array {
  return derTlv(DerTag.IA5_STRING, new TextEncoder().encode(text))
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0')
}

/**
 * A certificate time (RFC 5280 §4.1.2.5): UTCTime before 2050, GeneralizedTime from 2050.
 * `unixSeconds` is whole seconds.
 */
export function derTime(unixSeconds: number): Uint8Array {
  const date = new Date(unixSeconds * 1000)
  const year = date.getUTCFullYear()
  const rest =
    twoDigits(date.getUTCMonth() + 1) +
    twoDigits(date.getUTCDate()) +
    twoDigits(date.getUTCHours()) +
    twoDigits(date.getUTCMinutes()) +
    twoDigits(date.getUTCSeconds()) +
    'Z'
  const ascii = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0))
  return year < 2050
    ? derTlv(DerTag.UTC_TIME, ascii(twoDigits(year % 100) + rest))
    : derTlv(DerTag.GENERALIZED_TIME, ascii(String(year).padStart(4, '0') + rest))
}

/** `[n] EXPLICIT` (constructed context-specific) around one or more children. */
export function derExplicit(tagNumber: number, ...children: readonly Uint8Array[]): Uint8Array {
  return derTlv(0xa0 | tagNumber, concatBytes(...children))
}

/** `[n] IMPLICIT` primitive context-specific content (e.g. GeneralName URI, keyIdentifier). */
export function derImplicitPrimitive(tagNumber: number, content: Uint8Array): Uint8Array {
  return derTlv(0x80 | tagNumber, content)
}
