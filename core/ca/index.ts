/**
 * `core/ca`: the cluster certificate authority (PROTOCOL §8). It owns the deterministic CA
 * key and its byte-identical self-signed certificate, the parser for untrusted PKCS#10 CSRs,
 * and the leaf issuance policy behind `POST /kms/sign_cert` and `GET /kms/ca`.
 *
 * @module
 */
export { deriveCaKey, type CaKey } from './deriveCaKey'
export { buildCaCertificate, type BuildCaCertificateParams, type CaCertificate } from './buildCaCertificate'
export { parseCsr, MAX_CSR_BYTES, type ParsedCsr } from './parseCsr'
export type { CsrKeyType } from './_csrKey'
export { validateValiditySeconds, type ValidityLimits } from './validateValiditySeconds'
export {
  issueLeafCertificate,
  type IssueLeafCertificateParams,
  type LeafIdentity,
  type SignCertResponse,
} from './issueLeafCertificate'
export { signCertRequest, type SignCertRequestParams } from './signCertRequest'
