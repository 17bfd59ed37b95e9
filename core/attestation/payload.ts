/**
 * The payload rules of ATTESTATION.md §2 step 4: decode the signed payload with the step-2
 * decoder, then check each field's type and bounds. Key order is not checked (real documents
 * are not in RFC 8949 order) and unknown keys are ignored, since AWS signs them.
 */
import { decodeCbor, type CborItem } from './cbor'
import { AttestationError } from './errors'
import type { NitroAttestation } from './types'

const MODULE_ID_MAX_BYTES = 256
/** 10^12 ms is 2001-09-09: a smaller value is a timestamp in seconds. */
const TIMESTAMP_MIN_MS = 1_000_000_000_000
const PCR_MAX_INDEX = 31
const PCR_LENGTH = 48
const CERTIFICATE_MAX_BYTES = 1024
const CABUNDLE_MAX_ENTRIES = 8
/** Real documents reach 1024 B despite the 512 B in AWS's prose (ATTESTATION.md §2 step 4). */
const OPTIONAL_FIELD_MAX_BYTES = 1024

function payloadMalformed(): AttestationError {
  return new AttestationError('ATTESTATION_PAYLOAD_MALFORMED')
}

function readBytes(item: CborItem | undefined, min: number, max: number): Uint8Array {
  if (item?.type !== 'bytes' || item.value.length < min || item.value.length > max) throw payloadMalformed()
  return item.value.slice()
}

/** Absent and `null` mean the same (the CDDL allows absence; real documents send `null`). */
function readOptionalBytes(item: CborItem | undefined): Uint8Array | null {
  if (item === undefined || (item.type === 'simple' && item.value === null)) return null
  return readBytes(item, 0, OPTIONAL_FIELD_MAX_BYTES)
}

function readModuleId(item: CborItem | undefined): string {
  if (item?.type !== 'text' || item.byteLength < 1 || item.byteLength > MODULE_ID_MAX_BYTES) throw payloadMalformed()
  return item.value
}

function readTimestamp(item: CborItem | undefined): number {
  // A bigint is above 2^53 − 1; a negative integer is out of bounds too.
  if (item?.type !== 'integer' || typeof item.value !== 'number' || item.value < TIMESTAMP_MIN_MS) {
    throw payloadMalformed()
  }
  return item.value
}

/** 1–32 entries with distinct keys 0–31 (the decoder rejects duplicates), PCR0–2 present. */
function readPcrs(item: CborItem | undefined): Map<number, Uint8Array> {
  if (item?.type !== 'map' || item.entries.length < 1 || item.entries.length > PCR_MAX_INDEX + 1) {
    throw payloadMalformed()
  }
  const pcrs: [number, Uint8Array][] = []
  for (const [key, value] of item.entries) {
    if (key.type !== 'integer' || typeof key.value !== 'number' || key.value < 0 || key.value > PCR_MAX_INDEX) {
      throw payloadMalformed()
    }
    pcrs.push([key.value, readBytes(value, PCR_LENGTH, PCR_LENGTH)])
  }
  pcrs.sort((left, right) => left[0] - right[0])
  const byIndex = new Map(pcrs)
  if (!byIndex.has(0) || !byIndex.has(1) || !byIndex.has(2)) throw payloadMalformed()
  return byIndex
}

function readCabundle(item: CborItem | undefined): Uint8Array[] {
  if (item?.type !== 'array' || item.items.length < 1 || item.items.length > CABUNDLE_MAX_ENTRIES) {
    throw payloadMalformed()
  }
  return item.items.map((entry) => readBytes(entry, 1, CERTIFICATE_MAX_BYTES))
}

/**
 * Decodes and checks the payload.
 * @throws AttestationError `ATTESTATION_CBOR_MALFORMED`, `ATTESTATION_CBOR_DUPLICATE_KEY`,
 *   `ATTESTATION_PAYLOAD_MALFORMED`.
 */
export function parseNitroPayload(payload: Uint8Array): NitroAttestation {
  const top = decodeCbor(payload)
  if (top.type !== 'map') throw payloadMalformed()
  const fields = new Map<string, CborItem>()
  for (const [key, value] of top.entries) {
    if (key.type !== 'text') throw payloadMalformed()
    fields.set(key.value, value)
  }
  const digest = fields.get('digest')
  if (digest?.type !== 'text' || digest.value !== 'SHA384') throw payloadMalformed()
  return {
    moduleId: readModuleId(fields.get('module_id')),
    timestamp: readTimestamp(fields.get('timestamp')),
    digest: 'SHA384',
    pcrs: readPcrs(fields.get('pcrs')),
    certificate: readBytes(fields.get('certificate'), 1, CERTIFICATE_MAX_BYTES),
    cabundle: readCabundle(fields.get('cabundle')),
    publicKey: readOptionalBytes(fields.get('public_key')),
    userData: readOptionalBytes(fields.get('user_data')),
    nonce: readOptionalBytes(fields.get('nonce')),
  }
}
