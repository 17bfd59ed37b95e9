/**
 * Splits a COSE_Sign1 attestation document into editable parts and rebuilds it with the
 * test-side writer, for the tampering cases of ATTESTATION.md §6.3 and the synthetic
 * documents of §6.4.
 */
import { decodeCbor } from '../../../core/attestation/cbor'
import { CborArrayValue, CborMapValue, CborRaw, CborUint64, encodeCbor, fromDecoded, type CborValue } from './cborWriter'

/** `{1: -35}`, ES384. */
export const ES384_PROTECTED = Uint8Array.of(0xa1, 0x01, 0x38, 0x22)

export interface NitroDocumentParts {
  /** Prefix tag 18 (`d2`). */
  readonly tagged: boolean
  /** The protected header bstr's content. */
  readonly protectedHeader: Uint8Array
  readonly unprotected: CborValue
  /** The payload model, or exact payload bytes. */
  readonly payload: CborMapValue | Uint8Array
  /** The signature bstr's content. */
  readonly signature: Uint8Array
}

/** The payload as a writable map in its original order, with the timestamp as `1b`. */
export function payloadModel(payload: Uint8Array): CborMapValue {
  const model = fromDecoded(decodeCbor(payload))
  if (!(model instanceof CborMapValue)) throw new Error('payload is not a map')
  const timestamp = model.get('timestamp')
  return typeof timestamp === 'number' ? model.with('timestamp', new CborUint64(timestamp)) : model
}

/** The parts of a well-formed document (payload kept as exact bytes). */
export function splitNitroDocument(document: Uint8Array): NitroDocumentParts {
  const top = decodeCbor(document, true)
  const envelope = top.type === 'tag' ? top.item : top
  if (envelope.type !== 'array' || envelope.items.length !== 4) throw new Error('not a COSE_Sign1')
  const [protectedItem, unprotected, payload, signature] = envelope.items
  if (protectedItem?.type !== 'bytes' || payload?.type !== 'bytes' || signature?.type !== 'bytes' || unprotected === undefined) {
    throw new Error('not a COSE_Sign1')
  }
  return {
    tagged: top.type === 'tag',
    protectedHeader: protectedItem.value.slice(),
    unprotected: fromDecoded(unprotected),
    payload: payload.value.slice(),
    signature: signature.value.slice(),
  }
}

export function encodePayload(payload: CborMapValue | Uint8Array): Uint8Array {
  return payload instanceof Uint8Array ? payload : encodeCbor(payload)
}

export function buildNitroDocument(parts: NitroDocumentParts): Uint8Array {
  const envelope = encodeCbor(
    new CborArrayValue([parts.protectedHeader, parts.unprotected, encodePayload(parts.payload), parts.signature]),
  )
  return parts.tagged ? new Uint8Array([0xd2, ...envelope]) : envelope
}

/** A raw value for the writer, e.g. a hand-made envelope item. */
export function raw(bytes: Uint8Array | readonly number[]): CborRaw {
  return new CborRaw(Uint8Array.from(bytes))
}
