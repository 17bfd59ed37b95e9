/**
 * The COSE Sig_structure for COSE_Sign1 (RFC 9052 §4.4), built by hand from the envelope's
 * byte ranges (ATTESTATION.md §2 step 7). It is never produced by a CBOR encoder: encoders
 * differ between runtimes (cbor-x emits tag 64 where `Buffer` exists, ATTESTATION.md §5),
 * and the signed bytes must be exactly what the enclave signed.
 */
import { concatBytes } from '../encoding'
import type { CoseSign1 } from './cose'

/** `84` (array of 4), `6a` (text of 10), then ASCII `Signature1`. */
const CONTEXT_PREFIX = Uint8Array.of(0x84, 0x6a, 0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31)
/** `external_aad`: the empty bstr. */
const EMPTY_EXTERNAL_AAD = Uint8Array.of(0x40)

/** The shortest bstr header for `length` bytes: `40+n`, `58 n`, `59 nnnn` or `5a nnnnnnnn`. */
function byteStringHeader(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 + length)
  if (length < 0x100) return Uint8Array.of(0x58, length)
  if (length < 0x1_0000) return Uint8Array.of(0x59, length >> 8, length & 0xff)
  return Uint8Array.of(0x5a, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
}

/** `["Signature1", protected, h'', payload]` in CBOR. */
export function buildSigStructure(envelope: Pick<CoseSign1, 'protectedHeader' | 'payload'>): Uint8Array {
  return concatBytes(
    CONTEXT_PREFIX,
    byteStringHeader(envelope.protectedHeader.length),
    envelope.protectedHeader,
    EMPTY_EXTERNAL_AAD,
    byteStringHeader(envelope.payload.length),
    envelope.payload,
  )
}
