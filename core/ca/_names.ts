import { DerTag, derOid, derSequence, derSet, derTlv, derUtf8String, utf8ToBytes } from '../encoding'
import { Oid } from './_oids'

/** One attribute value, already encoded as a DER string (UTF8String or PrintableString). */
type Attribute = readonly [oid: string, value: Uint8Array]

/** An RDNSequence with one single-valued RDN per attribute, in the given (DER) order. */
function encodeName(attributes: readonly Attribute[]): Uint8Array {
  return derSequence(...attributes.map(([oid, value]) => derSet(derSequence(derOid(oid), value))))
}

/**
 * The CA's issuer and subject (PROTOCOL §8.2 item 4): `O=Nova KMS, OU=kms-app-<id>,
 * CN=Nova KMS CA`, and for cluster epoch c ≥ 1 a fourth RDN `dnQualifier=epoch-<c>`. The OU
 * binds the CA to one KMS deployment; the values are UTF8Strings, as RFC 5280 §4.1.2.4
 * recommends for new certificates.
 *
 * Why dnQualifier: two epochs' CAs are live at once during a rotation (§7.7), so their
 * names must differ for a relying party (and for chain building, which matches a leaf's
 * issuer to a CA's subject, RFC 5280 §6.1) to tell them apart. dnQualifier (2.5.4.46) is the
 * standard attribute for exactly this: "disambiguating information to add to the relative
 * distinguished name of an entry" for entries "that would otherwise have the same name"
 * (RFC 4519 §2.8, from X.520), and RFC 5280 §4.1.2.4 requires every implementation to be
 * prepared to receive it. A second OU would carry no such meaning and leaves the order of two
 * OUs to interpretation; serialNumber names a device or a registration number (X.520,
 * CA/Browser Forum EV). Its syntax is PrintableString (RFC 5280 Appendix A,
 * `X520dnQualifier`), which `epoch-<decimal>` satisfies. Epoch 0 adds nothing, so its name,
 * and so its certificate, stays byte-identical to §8.3.
 */
export function encodeCaName(kmsAppId: number, epoch = 0): Uint8Array {
  const attributes: Attribute[] = [
    [Oid.organizationName, derUtf8String('Nova KMS')],
    [Oid.organizationalUnitName, derUtf8String(`kms-app-${kmsAppId}`)],
    [Oid.commonName, derUtf8String('Nova KMS CA')],
  ]
  if (epoch !== 0) attributes.push([Oid.dnQualifier, derTlv(DerTag.PRINTABLE_STRING, utf8ToBytes(`epoch-${epoch}`))])
  return encodeName(attributes)
}

/**
 * A leaf subject (PROTOCOL §8.5 item 6): `O=Nova App, CN=app-<app_id>`. It is built only from
 * the registry identity; the CSR's subject never reaches it.
 */
export function encodeLeafName(appId: number): Uint8Array {
  return encodeName([
    [Oid.organizationName, derUtf8String('Nova App')],
    [Oid.commonName, derUtf8String(`app-${appId}`)],
  ])
}
