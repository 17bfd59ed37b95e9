/**
 * The certificate path of ATTESTATION.md §2 step 6: cabundle[0…k−1] then the leaf, root
 * first, taken by position (never reordered or rebuilt by name or AKI: older instance
 * certificates and all leaves lack AKI). Each certificate runs checks a–e in order and the
 * first failure stops the walk. No CRL, OCSP or AIA fetching.
 */
import { bytesEqual } from '../encoding'
import { derSignatureToRaw, importP384PublicKey, verifyP384 } from './_ecdsa'
import { parseCertificate, type NitroCertificate } from './certificate'
import { AttestationError } from './errors'

function chainBroken(cause?: unknown): AttestationError {
  return new AttestationError('ATTESTATION_CHAIN_BROKEN', { cause })
}

function chainConstraints(): AttestationError {
  return new AttestationError('ATTESTATION_CHAIN_CONSTRAINTS')
}

/**
 * 6c: ECDSA P-384/SHA-384 by the parent's key over the exact tbsCertificate bytes. High-S is
 * accepted (WebCrypto does). The pinned root's self-signature is not checked.
 */
async function checkSignature(certificate: NitroCertificate, parentKey: CryptoKey): Promise<void> {
  const signature = derSignatureToRaw(certificate.signature)
  if (signature === undefined) throw chainBroken()
  let valid: boolean
  try {
    valid = await verifyP384(parentKey, signature, certificate.tbs)
  } catch (error) {
    throw chainBroken(error)
  }
  if (!valid) throw chainBroken()
}

/** 6d. `casBelow` is the number of CAs after this one in the path. */
function checkConstraints(certificate: NitroCertificate, isCa: boolean, casBelow: number): void {
  const { basicConstraints, keyUsage } = certificate
  if (certificate.hasUnknownCriticalExtension) throw chainConstraints()
  if (isCa) {
    if (basicConstraints === undefined || !basicConstraints.critical || !basicConstraints.ca) throw chainConstraints()
    if (keyUsage === undefined || !keyUsage.keyCertSign) throw chainConstraints()
    if (basicConstraints.pathLen !== undefined && casBelow > basicConstraints.pathLen) throw chainConstraints()
  } else {
    if (basicConstraints !== undefined && (basicConstraints.ca || basicConstraints.pathLen !== undefined)) {
      throw chainConstraints()
    }
    if (keyUsage === undefined || !keyUsage.digitalSignature) throw chainConstraints()
  }
}

/** 6e: `notBefore·1000 ≤ at ≤ notAfter·1000`, inclusive, no leeway. */
function checkValidity(certificate: NitroCertificate, at: number): void {
  if (at < certificate.notBefore * 1000) throw new AttestationError('ATTESTATION_CERT_NOT_YET_VALID')
  if (at > certificate.notAfter * 1000) throw new AttestationError('ATTESTATION_CERT_EXPIRED')
}

async function importParentKey(certificate: NitroCertificate): Promise<CryptoKey> {
  try {
    return await importP384PublicKey(certificate.publicKey)
  } catch (error) {
    throw chainBroken(error) // the point is on the curve (6a), so only a runtime fault lands here
  }
}

interface Parent {
  readonly certificate: NitroCertificate
  readonly key: CryptoKey
}

/** Checks a–e for one certificate; `parent` is undefined only for the pinned root. */
async function checkCertificate(
  der: Uint8Array,
  parent: Parent | undefined,
  isCa: boolean,
  casBelow: number,
  at: number,
): Promise<NitroCertificate> {
  const certificate = parseCertificate(der)
  if (parent !== undefined) {
    if (!bytesEqual(certificate.issuer, parent.certificate.subject)) throw chainBroken()
    await checkSignature(certificate, parent.key)
  }
  checkConstraints(certificate, isCa, casBelow)
  checkValidity(certificate, at)
  return certificate
}

/**
 * Verifies the path `[...cabundle, leaf]` at `at` (ms) and returns the parsed leaf.
 * `cabundle[0]` must already be pinned (step 5).
 * @throws AttestationError `ATTESTATION_CERT_MALFORMED`, `ATTESTATION_CHAIN_BROKEN`,
 *   `ATTESTATION_CHAIN_CONSTRAINTS`, `ATTESTATION_CERT_NOT_YET_VALID`, `ATTESTATION_CERT_EXPIRED`.
 */
export async function verifyCertificatePath(
  cabundle: readonly Uint8Array[],
  leaf: Uint8Array,
  at: number,
): Promise<NitroCertificate> {
  let parent: Parent | undefined
  for (const [index, der] of cabundle.entries()) {
    const certificate = await checkCertificate(der, parent, true, cabundle.length - 1 - index, at)
    parent = { certificate, key: await importParentKey(certificate) }
  }
  // Step 4 guarantees a non-empty cabundle; without one the leaf would go unsigned.
  if (parent === undefined) throw chainBroken()
  return checkCertificate(leaf, parent, false, 0, at)
}
