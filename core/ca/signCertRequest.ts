import { KmsError } from '../errors'
import { nowSeconds, type Clock, type Random } from '../runtime'
import type { CaCertificate } from './buildCaCertificate'
import type { CaKey } from './deriveCaKey'
import { issueLeafCertificate, type LeafIdentity, type SignCertResponse } from './issueLeafCertificate'
import { parseCsr } from './parseCsr'
import { validateValiditySeconds, type ValidityLimits } from './validateValiditySeconds'

export interface SignCertRequestParams {
  /** The decrypted inner request, parsed JSON: `{"csr": str, "validity_seconds"?: int}`. */
  request: unknown
  /** The registry identity of the authenticated caller; never taken from `request`. */
  identity: LeafIdentity
  /** `CA_DNS_SUFFIX`: DNS SANs only under `app-<app_id>.<dnsSuffix>`; empty issues none (§8.5). */
  dnsSuffix: string
  caKey: CaKey
  caCertificate: CaCertificate
  validity: ValidityLimits
  clock: Clock
  random: Random
}

/**
 * The whole `POST /kms/sign_cert` inner-request pipeline (PROTOCOL §8.4–§8.6), so the HTTP
 * handler only authenticates, decrypts and responds. The check order is the contract:
 * 1. `csr` is a string (`bad_request`);
 * 2–4. `parseCsr`: DER and version, key and algorithm, self-signature;
 * 5. `validity_seconds`.
 * Only then is randomness drawn and the clock read.
 * @throws KmsError `bad_request`, `invalid_csr` or `unsupported_key`
 */
export function signCertRequest(params: SignCertRequestParams): SignCertResponse {
  const csrText = ownField(params.request, 'csr')
  if (typeof csrText !== 'string') throw new KmsError('bad_request', "Missing 'csr' field")
  const csr = parseCsr(csrText)
  const validitySeconds = validateValiditySeconds(ownField(params.request, 'validity_seconds'), params.validity)
  return issueLeafCertificate({
    caKey: params.caKey,
    caCertificate: params.caCertificate,
    csr,
    identity: params.identity,
    dnsSuffix: params.dnsSuffix,
    validitySeconds,
    nowSeconds: nowSeconds(params.clock),
    serial16: params.random.bytes(16),
  })
}

/** A JSON object's own field; anything that is not an object has no fields. */
function ownField(request: unknown, name: string): unknown {
  if (typeof request !== 'object' || request === null || Array.isArray(request) || !Object.hasOwn(request, name)) {
    return undefined
  }
  return (request as Readonly<Record<string, unknown>>)[name]
}
