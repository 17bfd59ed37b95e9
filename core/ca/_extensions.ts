import {
  derBoolean,
  derImplicitPrimitive,
  derOctetString,
  derOid,
  derSequence,
  derSmallInteger,
  utf8ToBytes,
} from '../encoding'
import { Oid } from './_oids'

/**
 * `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`
 * (RFC 5280 §4.1). DER omits a field equal to its DEFAULT, so a non-critical extension has
 * no BOOLEAN at all (X.690 §11.5).
 */
function encodeExtension(oid: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value))
}

/**
 * The CA's extensions, in PROTOCOL §8.2 item 8 order: basicConstraints (critical, CA:TRUE,
 * pathLen 0: the CA issues leaves only), keyUsage (critical, keyCertSign | cRLSign, `03 02 01
 * 06`), subjectKeyIdentifier.
 */
export function encodeCaExtensions(subjectKeyIdentifier: Uint8Array): Uint8Array[] {
  return [
    encodeExtension(Oid.basicConstraints, true, derSequence(derBoolean(true), derSmallInteger(0))),
    encodeExtension(Oid.keyUsage, true, Uint8Array.of(0x03, 0x02, 0x01, 0x06)),
    encodeExtension(Oid.subjectKeyIdentifier, false, derOctetString(subjectKeyIdentifier)),
  ]
}

export interface LeafExtensionsParams {
  appId: number
  instanceId: number
  /** Present iff the registry `instanceUrl` host lies in the app's zone under `CA_DNS_SUFFIX` (PROTOCOL §8.5). */
  dnsName: string | undefined
  subjectKeyIdentifier: Uint8Array
  authorityKeyIdentifier: Uint8Array
}

/**
 * The leaf's extensions, in PROTOCOL §8.5 item 8 order. Only the first two are critical.
 * - basicConstraints: CA false, which DER encodes as the empty `30 00` (cA DEFAULT FALSE).
 * - keyUsage: digitalSignature only (`03 02 07 80`: 7 unused bits, bit 0 set).
 * - extKeyUsage: serverAuth then clientAuth, so the leaf serves both ends of mutual TLS.
 * - subjectAltName: the URI `[6]` first, then the optional dNSName `[2]` (RFC 5280 §4.2.1.6).
 * - subjectKeyIdentifier, and authorityKeyIdentifier `SEQUENCE { [0] keyIdentifier }`.
 */
export function encodeLeafExtensions(params: LeafExtensionsParams): Uint8Array[] {
  const uri = `nova://app/${params.appId}/instance/${params.instanceId}`
  const generalNames = [derImplicitPrimitive(6, utf8ToBytes(uri))]
  if (params.dnsName !== undefined) generalNames.push(derImplicitPrimitive(2, utf8ToBytes(params.dnsName)))
  return [
    encodeExtension(Oid.basicConstraints, true, derSequence()),
    encodeExtension(Oid.keyUsage, true, Uint8Array.of(0x03, 0x02, 0x07, 0x80)),
    encodeExtension(Oid.extKeyUsage, false, derSequence(derOid(Oid.serverAuth), derOid(Oid.clientAuth))),
    encodeExtension(Oid.subjectAltName, false, derSequence(...generalNames)),
    encodeExtension(Oid.subjectKeyIdentifier, false, derOctetString(params.subjectKeyIdentifier)),
    encodeExtension(Oid.authorityKeyIdentifier, false, derSequence(derImplicitPrimitive(0, params.authorityKeyIdentifier))),
  ]
}
