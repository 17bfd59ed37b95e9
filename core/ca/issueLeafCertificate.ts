import { sha1 } from '@noble/hashes/legacy.js'
import { bytesToHex, derTime } from '../encoding'
import { assertBytes, assertInteger, assertString } from '../_assert'
import { serialFromBytes, signCertificate } from './_certificate'
import { ownedDnsName } from './_dnsName'
import { encodeLeafExtensions } from './_extensions'
import { encodeLeafName } from './_names'
import { encodePem } from './_pem'
import type { CaCertificate } from './buildCaCertificate'
import type { CaKey } from './deriveCaKey'
import type { ParsedCsr } from './parseCsr'

/** A leaf's notBefore lies this far before `now_s`, to absorb clock skew (PROTOCOL §8.5 item 5). */
const BACKDATE_SECONDS = 60

/** The last second a four-digit GeneralizedTime can express: 9999-12-31T23:59:59Z. */
const LAST_ENCODABLE_SECOND = 253_402_300_799

/** The authenticated caller, as the registry lists it (PROTOCOL §3.3 step 6). */
export interface LeafIdentity {
  appId: number
  instanceId: number
  /** The registry `instanceUrl`; its host may become a dNSName (see `dnsSuffix`). */
  instanceUrl: string
}

export interface IssueLeafCertificateParams {
  /** The CA key and certificate, a matching pair from `deriveCaKey` / `buildCaCertificate`. */
  caKey: CaKey
  caCertificate: CaCertificate
  csr: ParsedCsr
  identity: LeafIdentity
  /**
   * `CA_DNS_SUFFIX` (PROTOCOL §8.5, §11): the instance's host becomes a dNSName only if it
   * lies under `app-<app_id>.<dnsSuffix>`; empty issues no dNSName.
   */
  dnsSuffix: string
  /** Already validated by `validateValiditySeconds`. */
  validitySeconds: number
  nowSeconds: number
  /** 16 bytes from the injected `Random`; the §8.2 top-byte rule is applied to a copy. */
  serial16: Uint8Array
}

/** The PROTOCOL §8.6 response body, field names as on the wire. */
export interface SignCertResponse {
  certificate: string
  ca_certificate: string
  app_id: number
  /** 32 lowercase hex digits: the serial INTEGER's 16 content bytes. */
  serial: string
  /** `YYYY-MM-DDTHH:MM:SSZ`. */
  not_after: string
}

/**
 * Issues a leaf certificate in the PROTOCOL §8.5 profile. Everything identifying comes from
 * the registry identity; from the CSR only the SubjectPublicKeyInfo is taken, byte for byte.
 * The leaf is an end entity (CA false) for TLS server and client use, named
 * `O=Nova App, CN=app-<id>` with the SAN URI `nova://app/<id>/instance/<iid>`, and a DNS SAN
 * only for a host in the app's own zone `app-<id>.<dnsSuffix>` (`ownedDnsName`).
 *
 * @throws TypeError | RangeError on a malformed trusted input (a caller bug).
 */
export function issueLeafCertificate(params: IssueLeafCertificateParams): SignCertResponse {
  const { caKey, caCertificate, csr, identity, validitySeconds, nowSeconds } = params
  assertInteger(identity.appId, 'identity.appId', 0)
  assertInteger(identity.instanceId, 'identity.instanceId', 0)
  assertString(identity.instanceUrl, 'identity.instanceUrl')
  assertString(params.dnsSuffix, 'dnsSuffix')
  assertInteger(nowSeconds, 'nowSeconds', BACKDATE_SECONDS)
  assertInteger(validitySeconds, 'validitySeconds', 1, LAST_ENCODABLE_SECOND - nowSeconds)
  assertBytes(params.serial16, 'serial16', 16)
  assertBytes(caKey.privateKey, 'caKey.privateKey', 32)

  const serial = serialFromBytes(params.serial16)
  const notAfterSeconds = nowSeconds + validitySeconds
  const der = signCertificate(
    {
      serial,
      issuer: caCertificate.subject,
      notBefore: derTime(nowSeconds - BACKDATE_SECONDS),
      notAfter: derTime(notAfterSeconds),
      subject: encodeLeafName(identity.appId),
      subjectPublicKeyInfo: csr.subjectPublicKeyInfo,
      extensions: encodeLeafExtensions({
        appId: identity.appId,
        instanceId: identity.instanceId,
        dnsName: ownedDnsName(identity.instanceUrl, identity.appId, params.dnsSuffix),
        // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING contents.
        subjectKeyIdentifier: sha1(csr.publicKey),
        authorityKeyIdentifier: caCertificate.subjectKeyIdentifier,
      }),
    },
    caKey.privateKey,
  )
  return {
    certificate: encodePem('CERTIFICATE', der),
    ca_certificate: caCertificate.pem,
    app_id: identity.appId,
    serial: bytesToHex(serial),
    not_after: new Date(notAfterSeconds * 1000).toISOString().replace('.000Z', 'Z'),
  }
}
