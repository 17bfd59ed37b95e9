/**
 * P-384 private keys for ECDH (the teePubkey's key in the dev stand-in, sealing's ephemeral
 * keys, SDK keys). The scalar is imported once into a non-extractable WebCrypto key, so
 * each ECDH runs natively.
 */
import { p384 } from '@noble/curves/nist.js'
import { bytesToBase64 } from '../encoding'
import type { Random } from '../runtime'
import { assertBytes } from '../_assert'
import { drawSecretScalar } from './_randomScalar'
import { subtle } from './_subtle'
import { encodeP384PublicKeyDer, type P384PublicKey } from './p384PublicKey'

export interface P384PrivateKey {
  readonly publicKey: P384PublicKey
  /** WebCrypto ECDH key, usable for `deriveBits` only. */
  readonly cryptoKey: CryptoKey
  /**
   * Z per counterpart key (hex of its SEC1 point), most recently used last: the bounded ECDH
   * cache of `computeP384SharedSecret`, owned by this key so that it goes with it.
   */
  readonly sharedSecrets: Map<string, Uint8Array>
}

const SCALAR_LENGTH = 48

function base64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * Imports a 48-byte big-endian scalar d, 1 ≤ d < n.
 * @throws RangeError for a scalar out of range.
 */
export async function importP384PrivateKey(scalar: Uint8Array): Promise<P384PrivateKey> {
  assertBytes(scalar, 'scalar', SCALAR_LENGTH)
  if (!p384.utils.isValidSecretKey(scalar)) throw new RangeError('scalar: expected 1 ≤ d < n (P-384)')
  const sec1 = p384.getPublicKey(scalar, false)
  // WebCrypto has no raw import for EC private keys; JWK needs the public coordinates too.
  const jwk: JsonWebKey = {
    kty: 'EC',
    crv: 'P-384',
    d: base64Url(scalar),
    x: base64Url(sec1.subarray(1, 1 + SCALAR_LENGTH)),
    y: base64Url(sec1.subarray(1 + SCALAR_LENGTH)),
    ext: false,
  }
  const cryptoKey = await subtle().importKey('jwk', jwk, { name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])
  return { publicKey: { sec1, der: encodeP384PublicKeyDer(sec1) }, cryptoKey, sharedSecrets: new Map() }
}

/** A fresh key whose scalar comes from the injected `Random` (DESIGN §3). */
export async function generateP384PrivateKey(random: Random): Promise<P384PrivateKey> {
  return importP384PrivateKey(drawSecretScalar(random, SCALAR_LENGTH, (scalar) => p384.utils.isValidSecretKey(scalar)))
}
