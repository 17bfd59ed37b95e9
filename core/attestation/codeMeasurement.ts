/**
 * The registry's code measurement (PROTOCOL §2.9 client check, §3.2.2 step 5):
 * keccak256(PCR0 ‖ PCR1 ‖ PCR2), 144 bytes hashed.
 */
import { keccak_256 } from '@noble/hashes/sha3.js'
import { concatBytes } from '../encoding'
import { AttestationError } from './errors'

const PCR_LENGTH = 48

/**
 * @param pcrs a verified document's PCRs (PCR0–2 are always present after step 4).
 * @returns the 32-byte keccak256 digest.
 * @throws AttestationError `ATTESTATION_OPTIONS_INVALID` if PCR0–2 are not all 48 bytes
 *   (a caller bug: step 4 guarantees them).
 */
export function codeMeasurement(pcrs: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const [pcr0, pcr1, pcr2] = [pcrs.get(0), pcrs.get(1), pcrs.get(2)]
  if (pcr0?.length !== PCR_LENGTH || pcr1?.length !== PCR_LENGTH || pcr2?.length !== PCR_LENGTH) {
    throw new AttestationError('ATTESTATION_OPTIONS_INVALID')
  }
  return keccak_256(concatBytes(pcr0, pcr1, pcr2))
}
