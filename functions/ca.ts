/** `GET /kms/ca` (PROTOCOL §2.7): the cluster CA certificate, public and readiness-gated. */
import { jsonResponse, type KmsFunction } from './_http'

export const ca: KmsFunction = async (_request, node) => {
  const { caCertificate } = node.certificateAuthority()
  return jsonResponse({ ca_certificate: caCertificate.pem, fingerprint_sha256: caCertificate.fingerprintSha256 })
}
