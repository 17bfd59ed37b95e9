/**
 * The dev-mode replacement root, `NITRO_ROOT_CERT_PEM` (PROTOCOL §3.2.3). It is honoured only
 * outside enclave mode (the configuration refuses it there); this file only turns the PEM
 * into DER and checks that it is a certificate the verifier can use as a root.
 */
import { parseBase64 } from '../encoding'
import { KmsError } from '../errors'
import { parseCertificate } from './certificate'
import { isAttestationError } from './errors'

const PEM_CERTIFICATE = /^-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*)-----END CERTIFICATE-----$/

function invalidRoot(cause?: unknown): KmsError {
  return new KmsError('internal_error', 'Invalid configuration: NITRO_ROOT_CERT_PEM must be a PEM P-384 certificate', {
    cause,
  })
}

/**
 * @param pem the variable's value, or `undefined` when it is unset.
 * @returns the DER to pass as `trustedRoot`, or `undefined` when unset.
 * @throws KmsError `internal_error` naming the variable (PROTOCOL §11) for anything but one
 *   PEM certificate in the verifier's profile (P-384, ecdsa-with-SHA384).
 */
export function loadTrustedRoot(pem: string | undefined): Uint8Array | undefined {
  if (pem === undefined) return undefined
  const body = PEM_CERTIFICATE.exec(pem.trim())?.[1]
  // PROTOCOL §0: PEM bodies have their line breaks removed, then strict base64.
  const der = body === undefined ? undefined : parseBase64(body.replace(/\s/g, ''))
  if (der === undefined) throw invalidRoot()
  try {
    parseCertificate(der)
  } catch (error) {
    if (isAttestationError(error)) throw invalidRoot(error)
    throw error
  }
  return der
}
