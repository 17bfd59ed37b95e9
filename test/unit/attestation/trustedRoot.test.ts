/** `NITRO_ROOT_CERT_PEM` (PROTOCOL §3.2.3): the dev-mode replacement root, PEM to DER. */
import { describe, expect, test } from 'vitest'
import { loadTrustedRoot } from '../../../core/attestation'
import { bytesToBase64, bytesToHex } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import { devRootCertificateDer } from '../../../core/tee/devAttestation'
import { readFixtureFile } from '../../helpers/nitro/fixtures'

function pem(der: Uint8Array, eol = '\n'): string {
  return `-----BEGIN CERTIFICATE-----${eol}${bytesToBase64(der).replace(/.{64}/g, `$&${eol}`)}${eol}-----END CERTIFICATE-----${eol}`
}

describe('loadTrustedRoot', () => {
  test('behavior: unset means no replacement', () => {
    expect(loadTrustedRoot(undefined)).toBeUndefined()
  })

  test('vector: the AWS root PEM and a dev root PEM (LF or CRLF) give their DER', () => {
    const awsPem = new TextDecoder().decode(readFixtureFile('aws-nitro-enclaves-root-g1.pem'))
    expect(bytesToHex(loadTrustedRoot(awsPem)!)).toBe(bytesToHex(readFixtureFile('aws-nitro-enclaves-root-g1.der')))
    expect(bytesToHex(loadTrustedRoot(pem(devRootCertificateDer(), '\r\n'))!)).toBe(bytesToHex(devRootCertificateDer()))
  })

  test.each([
    ['empty text', ''],
    ['DER in base64 without PEM armour', bytesToBase64(devRootCertificateDer())],
    ['a public key block', pem(devRootCertificateDer()).replace(/CERTIFICATE/g, 'PUBLIC KEY')],
    ['two certificates', pem(devRootCertificateDer()) + pem(devRootCertificateDer())],
    ['bad base64', pem(devRootCertificateDer()).replace('MII', 'M!I')],
    ['a truncated certificate', pem(devRootCertificateDer().subarray(0, 300))],
  ])('error: %s names the variable (500 internal_error)', (_name, text) => {
    let error: unknown
    try {
      loadTrustedRoot(text)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(KmsError)
    expect((error as KmsError).toBody()).toEqual({
      code: 'internal_error',
      message: 'Invalid configuration: NITRO_ROOT_CERT_PEM must be a PEM P-384 certificate',
    })
  })
})
