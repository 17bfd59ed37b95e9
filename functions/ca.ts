/** `GET /kms/ca` (PROTOCOL §2.7): the cluster CA certificate, public and readiness-gated. */
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const ca = defineFunction(
  { name: 'ca', routes: [{ path: '/kms/ca', methods: ['GET', 'HEAD'] }], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'keys'>) => {
    const { caCertificate } = node.keys.certificateAuthority()
    return jsonResponse({ ca_certificate: caCertificate.pem, fingerprint_sha256: caCertificate.fingerprintSha256 })
  },
)
