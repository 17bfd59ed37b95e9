import { derOid, derSequence, derSet, derUtf8String } from '../encoding'
import { Oid } from './_oids'

/**
 * An RDNSequence with one single-valued RDN per attribute, in the given (DER) order, each
 * value a UTF8String (RFC 5280 §4.1.2.4 recommends UTF8String for new certificates).
 */
function encodeName(attributes: ReadonlyArray<readonly [oid: string, value: string]>): Uint8Array {
  return derSequence(...attributes.map(([oid, value]) => derSet(derSequence(derOid(oid), derUtf8String(value)))))
}

/**
 * The CA's issuer and subject (PROTOCOL §8.2 item 4): `O=Nova KMS, OU=kms-app-<id>,
 * CN=Nova KMS CA`. The OU binds the CA to one KMS deployment.
 */
export function encodeCaName(kmsAppId: number): Uint8Array {
  return encodeName([
    [Oid.organizationName, 'Nova KMS'],
    [Oid.organizationalUnitName, `kms-app-${kmsAppId}`],
    [Oid.commonName, 'Nova KMS CA'],
  ])
}

/**
 * A leaf subject (PROTOCOL §8.5 item 6): `O=Nova App, CN=app-<app_id>`. It is built only from
 * the registry identity; the CSR's subject never reaches it.
 */
export function encodeLeafName(appId: number): Uint8Array {
  return encodeName([
    [Oid.organizationName, 'Nova App'],
    [Oid.commonName, `app-${appId}`],
  ])
}
