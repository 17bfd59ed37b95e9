import { bytesToHex } from '../encoding'
import { bufferSource, subtle } from './_subtle'
import type { P384PrivateKey } from './p384PrivateKey'
import type { P384PublicKey } from './p384PublicKey'

/**
 * How many counterpart keys each private key remembers Z for. A node talks to one key per
 * app instance and per peer; 1024 holds a busy cluster, and a host that sends envelopes from
 * ever new keys only churns the cache (each entry is 48 bytes plus its 96-hex-character key).
 */
export const SHARED_SECRET_CACHE_ENTRIES = 1024

/**
 * P-384 ECDH (PROTOCOL §5.1): Z is the 48-byte x-coordinate of d·P, on WebCrypto, and
 * remembered in `privateKey.sharedSecrets` (at most {@link SHARED_SECRET_CACHE_ENTRIES}).
 * The peer key is already parsed, so it is on the curve.
 *
 * Reusing Z is safe (PROTOCOL §10.2): every envelope key is K = HKDF(Z, lo‖hi‖N, info) with
 * a fresh 12-byte N per message, so no two messages share K, and Z never leaves this
 * function but as a copy into that derivation. Holding Z adds nothing an attacker of this
 * memory would not already have: the private key next to it gives every Z. What it saves is
 * the ECDH, the costliest step of sealing or opening an envelope (about 3 ms of P-384 here,
 * twice per request against the same app key).
 * @returns a fresh copy of Z, which the caller may overwrite.
 */
export async function computeP384SharedSecret(
  privateKey: P384PrivateKey,
  peerPublicKey: P384PublicKey,
): Promise<Uint8Array> {
  const secrets = privateKey.sharedSecrets
  const counterpart = bytesToHex(peerPublicKey.sec1)
  const known = secrets.get(counterpart)
  if (known !== undefined) {
    // Move to the most recent end (Map order is insertion order).
    secrets.delete(counterpart)
    secrets.set(counterpart, known)
    return known.slice()
  }
  const crypto = subtle()
  const peer = await crypto.importKey(
    'raw',
    bufferSource(peerPublicKey.sec1),
    { name: 'ECDH', namedCurve: 'P-384' },
    false,
    [],
  )
  const shared = new Uint8Array(await crypto.deriveBits({ name: 'ECDH', public: peer }, privateKey.cryptoKey, 384))
  secrets.set(counterpart, shared)
  if (secrets.size > SHARED_SECRET_CACHE_ENTRIES) secrets.delete(secrets.keys().next().value!)
  return shared.slice()
}
