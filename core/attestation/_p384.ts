/**
 * The one curve check step 6a needs: is a 97-byte SEC1 uncompressed point on P-384
 * (SEC 1 §2.3.4; curve from FIPS 186-5 / SEC 2 §2.5.1)? A dozen lines of bigint keep a full
 * curve library out of the browser bundle; signatures are verified by WebCrypto.
 */

/** Field prime p = 2^384 − 2^128 − 2^96 + 2^32 − 1. */
const P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn
/** Curve coefficient b (a = −3). */
const B = 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn
const COORDINATE_LENGTH = 48

function toBigInt(bytes: Uint8Array): bigint {
  let value = 0n
  for (const byte of bytes) value = (value << 8n) | BigInt(byte)
  return value
}

/** True iff `point` is `04 ‖ X ‖ Y` with X, Y < p and Y² ≡ X³ − 3X + b (mod p). */
export function isP384UncompressedPoint(point: Uint8Array): boolean {
  if (point.length !== 1 + 2 * COORDINATE_LENGTH || point[0] !== 0x04) return false
  const x = toBigInt(point.subarray(1, 1 + COORDINATE_LENGTH))
  const y = toBigInt(point.subarray(1 + COORDINATE_LENGTH))
  if (x >= P || y >= P) return false
  return (y * y) % P === (((x * x - 3n) % P) * x + B + P) % P
}
