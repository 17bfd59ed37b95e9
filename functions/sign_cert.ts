/**
 * `POST /kms/sign_cert` (PROTOCOL §8.4–§8.6): a leaf certificate from the cluster CA. The
 * subject and SANs come from the caller's registry identity; the CSR only lends its key.
 */
import { signCertRequest } from '../core/ca'
import type { KmsNode } from '../core/node'
import { defineAppFunction } from './_appRequest'

export const signCert = defineAppFunction(
  { name: 'sign_cert', routes: [{ path: '/kms/sign_cert', methods: ['POST'] }], weight: (config) => config.signCertRateWeight },
  async ({ identity, payload, audit }, node: Pick<KmsNode, 'keys' | 'config' | 'clock' | 'random'>) => {
    const { caKey, caCertificate } = node.keys.certificateAuthority()
    const issued = await signCertRequest({
      request: payload,
      identity: { appId: identity.appId, instanceId: identity.instanceId, instanceUrl: identity.instanceUrl },
      dnsSuffix: node.config.caDnsSuffix,
      caKey,
      caCertificate,
      validity: { defaultSeconds: node.config.caDefaultValiditySeconds, maxSeconds: node.config.caMaxValiditySeconds },
      clock: node.clock,
      random: node.random,
    })
    audit({ op: 'sign_cert', serial: issued.serial, not_after_s: Math.floor(Date.parse(issued.not_after) / 1000) })
    return issued
  },
)
