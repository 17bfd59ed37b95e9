/**
 * `POST /kms/sign_cert` (PROTOCOL §8.4–§8.6): a leaf certificate from the cluster CA. The
 * subject and SANs come from the caller's registry identity; the CSR only lends its key.
 */
import { signCertRequest } from '../core/ca'
import { handleAppRequest } from './_appRequest'
import type { KmsFunction } from './_http'

export const signCert: KmsFunction = (request, node) =>
  handleAppRequest(request, node, { hasBody: true, weight: node.config.signCertRateWeight }, async ({ identity, payload }) => {
    const { caKey, caCertificate } = node.certificateAuthority()
    return signCertRequest({
      request: payload,
      identity: { appId: identity.appId, instanceId: identity.instanceId, instanceUrl: identity.instanceUrl },
      caKey,
      caCertificate,
      validity: { defaultSeconds: node.config.caDefaultValiditySeconds, maxSeconds: node.config.caMaxValiditySeconds },
      clock: node.clock,
      random: node.random,
    })
  })
