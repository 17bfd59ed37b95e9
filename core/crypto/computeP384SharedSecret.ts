import { bufferSource, subtle } from './_subtle'
import type { P384PrivateKey } from './p384PrivateKey'
import type { P384PublicKey } from './p384PublicKey'

/**
 * P-384 ECDH (PROTOCOL §5.1): Z is the 48-byte x-coordinate of d·P, on WebCrypto. The
 * peer key is already parsed, so it is on the curve.
 */
export async function computeP384SharedSecret(
  privateKey: P384PrivateKey,
  peerPublicKey: P384PublicKey,
): Promise<Uint8Array> {
  const crypto = subtle()
  const peer = await crypto.importKey(
    'raw',
    bufferSource(peerPublicKey.sec1),
    { name: 'ECDH', namedCurve: 'P-384' },
    false,
    [],
  )
  const bits = await crypto.deriveBits({ name: 'ECDH', public: peer }, privateKey.cryptoKey, 384)
  return new Uint8Array(bits)
}
