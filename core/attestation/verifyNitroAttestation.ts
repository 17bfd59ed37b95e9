/**
 * `verifyNitroAttestation`: the whole procedure of ATTESTATION.md §2, steps 0–10 in order;
 * the first failure decides the code. Runs unchanged in Node, workerd and browsers: no
 * clock (the time is `options.at`), no randomness, no I/O.
 */
import { verifyCertificatePath } from './chain'
import { verifyCoseSignature } from './coseSignature'
import { readNitroDocument } from './decodeNitroAttestation'
import { resolveOptions } from './options'
import { checkFreshness, checkNonce, checkPcrPolicy } from './policy'
import { checkRootPin } from './rootPin'
import type { NitroAttestation, VerifyNitroAttestationOptions } from './types'

/**
 * Verifies an AWS Nitro Enclaves attestation document (COSE_Sign1, ES384) against the pinned
 * AWS Root-G1 (or `options.trustedRoot`) at `options.at`, then applies the caller's policy.
 *
 * @param document the raw COSE_Sign1 bytes (decode text with `decodeAttestationText` first).
 * @returns the decoded document; byte fields are copies.
 * @throws AttestationError (rejects) with one of the `ATTESTATION_*` codes of ATTESTATION.md §1.
 * @example
 * const attestation = await verifyNitroAttestation(bytes, { at: clock.nowMs(), maxAgeMs: 300_000 })
 */
export async function verifyNitroAttestation(
  document: Uint8Array,
  options: VerifyNitroAttestationOptions,
): Promise<NitroAttestation> {
  const resolved = resolveOptions(document, options)
  // A private copy: the signed views must not change under the awaits of steps 6–7.
  const { envelope, attestation } = readNitroDocument(document.slice())
  checkRootPin(attestation.cabundle[0]!, resolved.trustedRoot)
  const leaf = await verifyCertificatePath(attestation.cabundle, attestation.certificate, resolved.at)
  await verifyCoseSignature(envelope, leaf.publicKey)
  // Policy only after authenticity, so a forged document never learns which policy failed.
  checkFreshness(attestation.timestamp, resolved.at, resolved.maxAgeMs, resolved.maxFutureSkewMs)
  checkNonce(attestation.nonce, resolved.expectedNonce)
  checkPcrPolicy(attestation.pcrs, resolved.allowDebugMode, resolved.expectedPcrs)
  return attestation
}
