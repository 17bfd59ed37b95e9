/**
 * The COSE_Sign1 envelope checks of ATTESTATION.md §2 step 3 (RFC 9052 §4.2), applied to the
 * item that step 2 decoded. Every item's type and size is checked before the protected
 * header's content, so the codes follow the spec's order.
 */
import { bytesEqual } from '../encoding'
import type { CborItem } from './cbor'
import { AttestationError } from './errors'

/** COSE tag 18, COSE_Sign1 (RFC 9052 §4.2). The signature does not cover it. */
const COSE_SIGN1_TAG = 18
/** `{1: -35}`: alg ES384, the only protected header Nitro uses. */
const ES384_PROTECTED_HEADER = Uint8Array.of(0xa1, 0x01, 0x38, 0x22)
/** Raw r‖s for P-384. AWS's CDDL size list is wrong for ES384 (ATTESTATION.md §2 step 3). */
const ES384_SIGNATURE_LENGTH = 96

/** The envelope's signed parts, as views of the document. */
export interface CoseSign1 {
  /** The protected header bstr's content (`a1 01 38 22`). */
  readonly protectedHeader: Uint8Array
  /** The payload bstr's content. */
  readonly payload: Uint8Array
  /** Raw r‖s, 96 bytes. */
  readonly signature: Uint8Array
}

function coseMalformed(): AttestationError {
  return new AttestationError('ATTESTATION_COSE_MALFORMED')
}

/**
 * Checks the envelope shape and returns its parts.
 * @throws AttestationError `ATTESTATION_COSE_MALFORMED`, `ATTESTATION_COSE_UNSUPPORTED_HEADER`.
 */
export function readCoseSign1(top: CborItem): CoseSign1 {
  let envelope = top
  if (envelope.type === 'tag') {
    if (envelope.tag !== COSE_SIGN1_TAG) throw coseMalformed()
    envelope = envelope.item
  }
  if (envelope.type !== 'array' || envelope.items.length !== 4) throw coseMalformed()
  const [protectedItem, unprotectedItem, payloadItem, signatureItem] = envelope.items as [
    CborItem,
    CborItem,
    CborItem,
    CborItem,
  ]
  if (protectedItem.type !== 'bytes') throw coseMalformed()
  // `a0` or `bf ff`; `null` (the blocky self-signed document) or any entry is malformed.
  if (unprotectedItem.type !== 'map' || unprotectedItem.entries.length !== 0) throw coseMalformed()
  // A detached (null) payload is unsupported.
  if (payloadItem.type !== 'bytes' || payloadItem.value.length === 0) throw coseMalformed()
  if (signatureItem.type !== 'bytes' || signatureItem.value.length !== ES384_SIGNATURE_LENGTH) throw coseMalformed()
  // Another alg, a kid, crit, or an empty map: only the exact bytes are supported.
  if (!bytesEqual(protectedItem.value, ES384_PROTECTED_HEADER)) {
    throw new AttestationError('ATTESTATION_COSE_UNSUPPORTED_HEADER')
  }
  return { protectedHeader: protectedItem.value, payload: payloadItem.value, signature: signatureItem.value }
}
