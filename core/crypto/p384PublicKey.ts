/**
 * P-384 public keys (PROTOCOL §0). The wire form is the 120-byte DER SubjectPublicKeyInfo
 * `3076…0004 ‖ X ‖ Y`; inputs may also be the 97-byte SEC1 uncompressed point. Two keys are
 * equal iff they are the same point.
 */
import { p384 } from '@noble/curves/nist.js'
import { bytesEqual, bytesToHex, concatBytes, parseHex } from '../encoding'
import { assertBytes } from '../_assert'

/** A parsed, on-curve P-384 public key in both encodings. */
export interface P384PublicKey {
  /** SEC1 uncompressed point, `04 ‖ X ‖ Y` (97 B). */
  readonly sec1: Uint8Array
  /** DER SubjectPublicKeyInfo (120 B), the wire form. */
  readonly der: Uint8Array
}

/**
 * The SPKI header up to the point: SEQUENCE, AlgorithmIdentifier {id-ecPublicKey,
 * secp384r1}, BIT STRING (98 B, 0 unused bits). The SEC1 `04` follows it.
 */
const SPKI_HEADER = parseHex('3076301006072a8648ce3d020106052b81040022036200')!
const SEC1_LENGTH = 97
const DER_LENGTH = SPKI_HEADER.length + SEC1_LENGTH

/** Encodes a 97-byte SEC1 uncompressed point as DER SPKI (120 B). */
export function encodeP384PublicKeyDer(point: Uint8Array): Uint8Array {
  assertBytes(point, 'point', SEC1_LENGTH)
  if (point[0] !== 0x04) throw new RangeError('point: expected a SEC1 uncompressed point (prefix 04)')
  return concatBytes(SPKI_HEADER, point)
}

/**
 * Keys parsed lately, by their bytes in hex, with the answer. A node meets one app key about
 * three times a request (its registry entry, the envelope's sender, the answer's recipient),
 * and a point check costs about 0.1 ms where the hex and a lookup cost about 1 µs (issue 14).
 * Keyed by content, so an array changed in place is parsed again; bounded, least recently
 * used out, so a stream of fresh keys costs what it cost before and no more memory.
 */
const parsedKeys = new Map<string, P384PublicKey | undefined>()
const PARSED_KEYS_KEPT = 64

/**
 * Parses a P-384 public key from DER SPKI (exact prefix, 120 B) or SEC1 uncompressed (97 B).
 * @returns the key, or `undefined` for any other length or prefix, or a point that is not
 *   on the curve. The same bytes get the same answer, which callers must not change.
 */
export function parseP384PublicKey(bytes: Uint8Array): P384PublicKey | undefined {
  // Only the two lengths that can parse are cached, so a long input costs no long key.
  if (bytes.length !== DER_LENGTH && bytes.length !== SEC1_LENGTH) return undefined
  const hex = bytesToHex(bytes)
  if (parsedKeys.has(hex)) {
    const key = parsedKeys.get(hex)
    parsedKeys.delete(hex)
    parsedKeys.set(hex, key)
    return key
  }
  const key = parseUncached(bytes)
  parsedKeys.set(hex, key)
  if (parsedKeys.size > PARSED_KEYS_KEPT) parsedKeys.delete(parsedKeys.keys().next().value!)
  return key
}

function parseUncached(bytes: Uint8Array): P384PublicKey | undefined {
  let sec1: Uint8Array
  if (bytes.length === DER_LENGTH && bytesEqual(bytes.subarray(0, SPKI_HEADER.length), SPKI_HEADER)) {
    sec1 = bytes.slice(SPKI_HEADER.length)
  } else if (bytes.length === SEC1_LENGTH) {
    sec1 = bytes.slice()
  } else return undefined
  if (sec1[0] !== 0x04 || !p384.utils.isValidPublicKey(sec1, false)) return undefined
  return { sec1, der: concatBytes(SPKI_HEADER, sec1) }
}

/** Point equality of two encoded keys; a value that does not parse equals nothing (§5.6). */
export function isSameP384PublicKey(left: Uint8Array, right: Uint8Array): boolean {
  const a = parseP384PublicKey(left)
  const b = parseP384PublicKey(right)
  return a !== undefined && b !== undefined && bytesEqual(a.sec1, b.sec1)
}
