/**
 * Steps 1–4 of ATTESTATION.md §2 (size, CBOR, COSE envelope, payload), without any trust
 * decision. `verifyNitroAttestation` builds on them; the operator CLI uses the unverified
 * form to show what a rejected document claims.
 */
import { decodeCbor } from './cbor'
import { readCoseSign1, type CoseSign1 } from './cose'
import { AttestationError } from './errors'
import { parseNitroPayload } from './payload'
import type { NitroAttestation } from './types'

/** Step 1: real documents are 4.4–7.5 KB. */
export const ATTESTATION_DOCUMENT_MAX_BYTES = 16_384

export interface DecodedNitroDocument {
  /** The envelope's signed parts, as views of the document. */
  readonly envelope: CoseSign1
  readonly attestation: NitroAttestation
}

/**
 * Steps 1–4 on a document already known to be a `Uint8Array`.
 * @throws AttestationError of steps 1–4.
 */
export function readNitroDocument(document: Uint8Array): DecodedNitroDocument {
  if (document.length > ATTESTATION_DOCUMENT_MAX_BYTES) throw new AttestationError('ATTESTATION_INPUT_TOO_LARGE')
  const envelope = readCoseSign1(decodeCbor(document, true))
  return { envelope, attestation: parseNitroPayload(envelope.payload) }
}

/**
 * Decodes a document **without verifying anything**: no root, chain, signature, freshness,
 * nonce or PCR check. For display only (the operator CLI); never base a decision on it.
 * @throws AttestationError `ATTESTATION_OPTIONS_INVALID` (not bytes), or the codes of steps 1–4.
 */
export function decodeNitroAttestationUnverified(document: Uint8Array): NitroAttestation {
  if (!(document instanceof Uint8Array)) throw new AttestationError('ATTESTATION_OPTIONS_INVALID')
  return readNitroDocument(document).attestation
}
