import { computeP384SharedSecret, generateP384PrivateKey, parseP384PublicKey, type P384PrivateKey } from '../crypto'
import { bytesEqual } from '../encoding'
import { subtle } from '../crypto/_subtle'
import type { Random } from '../runtime'
import { p384EnvelopeKey, type EnvelopeKey } from './envelopeKey'

export interface WebCryptoEnvelopeKeyParameters {
  /**
   * A P-384 ECDH key pair, e.g. from `crypto.subtle.generateKey({ name: 'ECDH', namedCurve:
   * 'P-384' }, false, ['deriveBits'])`. The private key may be non-extractable: it is only
   * used through `deriveBits`. The public key must be exportable (WebCrypto's always are).
   */
  keyPair: { privateKey: CryptoKey; publicKey: CryptoKey }
  /** Draws each envelope's nonce. */
  random: Random
}

/**
 * Z is never kept (PROTOCOL §5.1). `computeP384SharedSecret` remembers Z per counterpart for
 * keys imported from a scalar, where the scalar itself has passed through this memory, so Z
 * adds nothing. A non-extractable key exists so that nothing key-equivalent lives in script
 * memory: a remembered Z would be, for every envelope with that node, and would outlive the
 * handle. So each seal and open runs its ECDH (a few ms of P-384).
 */
class RetainNothing extends Map<string, Uint8Array> {
  override set(): this {
    return this
  }
}

function isP384Ecdh(key: CryptoKey, type: KeyType): boolean {
  const algorithm = key.algorithm as EcKeyAlgorithm
  return key.type === type && algorithm.name === 'ECDH' && algorithm.namedCurve === 'P-384'
}

/**
 * The envelope key over a WebCrypto P-384 ECDH key pair (issue 17 item 5).
 * @throws TypeError for keys that are not a P-384 ECDH pair of one key, or a private key
 *   without the `deriveBits` usage.
 */
export async function webCryptoEnvelopeKey({ keyPair, random }: WebCryptoEnvelopeKeyParameters): Promise<EnvelopeKey> {
  const { privateKey, publicKey } = keyPair
  if (!isP384Ecdh(privateKey, 'private') || !privateKey.usages.includes('deriveBits')) {
    throw new TypeError('keyPair.privateKey: expected a P-384 ECDH private key with the deriveBits usage')
  }
  if (!isP384Ecdh(publicKey, 'public')) throw new TypeError('keyPair.publicKey: expected a P-384 ECDH public key')
  const point = parseP384PublicKey(new Uint8Array(await subtle().exportKey('raw', publicKey)))
  if (point === undefined) throw new TypeError('keyPair.publicKey: not a P-384 point')
  const key: P384PrivateKey = { publicKey: point, cryptoKey: privateKey, sharedSecrets: new RetainNothing() }
  // A public key that is not the private key's would seal under a teePubkey no node can open:
  // one ECDH with a throwaway key each way shows they are a pair.
  const probe = await generateP384PrivateKey(random)
  if (!bytesEqual(await computeP384SharedSecret(key, probe.publicKey), await computeP384SharedSecret(probe, point))) {
    throw new TypeError('keyPair: the public key is not the private key\'s')
  }
  return p384EnvelopeKey({ privateKey: key, random })
}
