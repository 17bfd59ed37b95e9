/**
 * `GET /kms/ca` (PROTOCOL §2.7): the cluster CA certificate, public and readiness-gated.
 * During a rotation's grace period (§7.7) it also names the previous epoch's CA, so relying
 * parties can trust both while leaves of the old one are still in use.
 */
import type { KmsNode } from '../core/node'
import { defineFunction } from './_define'
import { jsonResponse } from './_http'

export const ca = defineFunction(
  { name: 'ca', routes: [{ path: '/kms/ca', methods: ['GET', 'HEAD'] }], gate: 'ready', limiter: 'client', bodyLimit: 'request' },
  async (_request, node: Pick<KmsNode, 'keys'>) => {
    const { caCertificate, epoch } = node.keys.certificateAuthority()
    const previousEpoch = epoch - 1
    const previous = epoch >= 1 && node.keys.holds(previousEpoch) ? node.keys.certificateAuthority(previousEpoch).caCertificate : undefined
    return jsonResponse({
      ca_certificate: caCertificate.pem,
      fingerprint_sha256: caCertificate.fingerprintSha256,
      epoch,
      ...(previous === undefined ? {} : { previous: { ca_certificate: previous.pem, fingerprint_sha256: previous.fingerprintSha256, epoch: previousEpoch } }),
    })
  },
)
