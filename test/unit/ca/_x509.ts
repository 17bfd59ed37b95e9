/** A test-side view of an issued certificate, read with the strict DER reader. */
import { bytesToNumberBE } from '@noble/curves/utils.js'
import {
  parseDer,
  readDerBitStringBytes,
  readDerBoolean,
  readDerChildren,
  readDerOid,
  readDerSequence,
  readDerUnsignedInteger,
  type DerElement,
} from '../../../core/encoding'
import { base64ToBytes, pemBody } from './_fixtures'

export interface Extension {
  oid: string
  critical: boolean
  value: Uint8Array
}

export interface CertificateView {
  der: Uint8Array
  tbs: Uint8Array
  serial: Uint8Array
  issuer: Uint8Array
  notBefore: DerElement
  notAfter: DerElement
  subject: Uint8Array
  subjectPublicKeyInfo: Uint8Array
  extensions: Extension[]
  signature: { r: bigint; s: bigint }
}

export function readCertificate(pem: string): CertificateView {
  const der = base64ToBytes(pemBody(pem))
  const [tbs, , signature] = readDerSequence(parseDer(der), 'Certificate')
  const fields = readDerSequence(tbs, 'tbs')
  const [, serial, , issuer, validity, subject, spki, extensionsTagged] = fields
  const [notBefore, notAfter] = readDerSequence(validity, 'validity')
  const extensions = readDerSequence(readDerChildren(extensionsTagged!)[0], 'extensions').map((element) => {
    const parts = readDerSequence(element, 'extension')
    const critical = parts.length === 3 ? readDerBoolean(parts[1], 'critical') : false
    return { oid: readDerOid(parts[0], 'extnID'), critical, value: parts[parts.length - 1]!.content }
  })
  const [r, s] = readDerSequence(parseDer(readDerBitStringBytes(signature, 'signature')), 'ECDSA-Sig-Value')
  return {
    der,
    tbs: tbs!.tlv,
    serial: serial!.content,
    issuer: issuer!.tlv,
    notBefore: notBefore!,
    notAfter: notAfter!,
    subject: subject!.tlv,
    subjectPublicKeyInfo: spki!.tlv,
    extensions,
    signature: {
      r: bytesToNumberBE(readDerUnsignedInteger(r, 'r')),
      s: bytesToNumberBE(readDerUnsignedInteger(s, 's')),
    },
  }
}

/** The GeneralNames of the subjectAltName extension, as `[tag, text]` pairs. */
export function subjectAltNames(view: CertificateView): Array<[number, string]> {
  const san = view.extensions.find((extension) => extension.oid === '2.5.29.17')
  if (san === undefined) throw new Error('no subjectAltName')
  return readDerChildren(parseDer(san.value)).map((name) => [name.tag, new TextDecoder().decode(name.content)])
}
