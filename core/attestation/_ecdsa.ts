/**
 * ECDSA P-384 / SHA-384 verification through WebCrypto, native in Node, workerd and browsers
 * (ATTESTATION.md §4). WebCrypto accepts high-S signatures, which step 6c and step 7 require:
 * 17 of the 36 chain signatures and 2 of the 9 COSE signatures in the fixtures are high-S.
 * `crypto.subtle` is looked up per call, never at module load (DESIGN §3).
 */
import { DerError, parseDer, readDerSequence, readDerUnsignedInteger } from '../encoding'

const SCALAR_LENGTH = 48
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-384' } as const
const SIGNATURE_PARAMS = { name: 'ECDSA', hash: 'SHA-384' } as const

/** A verification key from a 97-byte uncompressed point already checked to be on P-384. */
export function importP384PublicKey(point: Uint8Array): Promise<CryptoKey> {
  return globalThis.crypto.subtle.importKey('raw', point.slice(), ALGORITHM, false, ['verify'])
}

/**
 * Verifies a raw r‖s signature (96 B) over `message`, hashed with SHA-384 by WebCrypto.
 * @returns false for a wrong signature; rejects only if WebCrypto itself fails.
 */
export function verifyP384(key: CryptoKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  return globalThis.crypto.subtle.verify(SIGNATURE_PARAMS, key, signature.slice(), message.slice())
}

/**
 * An X.509 ECDSA-Sig-Value (RFC 5480 §2.2.3: SEQUENCE of two positive minimal INTEGERs) as
 * the raw r‖s that WebCrypto takes.
 * @returns the 96 bytes, or `undefined` if the DER is not exactly that shape.
 */
export function derSignatureToRaw(der: Uint8Array): Uint8Array | undefined {
  try {
    const [r, s, extra] = readDerSequence(parseDer(der), 'ECDSA signature')
    if (extra !== undefined) return undefined
    const raw = new Uint8Array(2 * SCALAR_LENGTH)
    for (const [index, element] of [r, s].entries()) {
      const scalar = readDerUnsignedInteger(element, 'ECDSA scalar')
      if (scalar.length > SCALAR_LENGTH) return undefined
      raw.set(scalar, (index + 1) * SCALAR_LENGTH - scalar.length)
    }
    return raw
  } catch (error) {
    if (error instanceof DerError) return undefined
    throw error
  }
}
