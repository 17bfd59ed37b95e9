/**
 * The step-6a certificate parser (ATTESTATION.md §2, §4 "hand-written DER reader: test it
 * against the fixtures and openssl-made certificates"): all 45 real certificates, certificates
 * made by openssl, and strict-DER edits.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import { AttestationError, decodeNitroAttestationUnverified, parseCertificate, type AttestationErrorCode } from '../../../core/attestation'
import { derBoolean, derOctetString, derOid, derSequence, derTlv, parseDer, readDerSequence } from '../../../core/encoding'
import { loadNitroFixtures } from '../../helpers/nitro/fixtures'
import { buildSyntheticChain, extensions, type CertificateSpec } from '../../helpers/nitro/syntheticChain'

const fixtures = loadNitroFixtures()
const NOW = Date.UTC(2026, 5, 1)

function failure(der: Uint8Array): AttestationErrorCode | undefined {
  try {
    parseCertificate(der)
    return undefined
  } catch (error) {
    if (error instanceof AttestationError) return error.attestationCode
    throw error
  }
}

function leafWith(edit: (spec: CertificateSpec) => CertificateSpec): Uint8Array {
  return buildSyntheticChain({ nowMs: NOW, edit: { leaf: edit } }).leaf
}

describe('real certificates', () => {
  test.each(fixtures)('vector: the five certificates of $name parse with the facts of fixtures.json', ({ document, facts }) => {
    const { certificate, cabundle } = decodeNitroAttestationUnverified(document)
    const parsed = cabundle.map(parseCertificate)
    expect(parsed.map((entry) => new Date(entry.notBefore * 1000).toISOString())).toEqual(facts.cabundle.map((entry) => entry.notBefore))
    expect(parsed.map((entry) => entry.basicConstraints?.pathLen)).toEqual(facts.cabundle.map((entry) => entry.pathLen))
    expect(parsed.every((entry) => entry.basicConstraints?.critical === true && entry.basicConstraints.ca)).toBe(true)
    expect(parsed.every((entry) => entry.keyUsage?.keyCertSign === true && !entry.hasUnknownCriticalExtension)).toBe(true)
    const leaf = parseCertificate(certificate)
    expect(new Date(leaf.notAfter * 1000).toISOString()).toBe(facts.leaf.notAfter)
    expect(leaf.basicConstraints).toEqual({ critical: true, ca: false, pathLen: undefined })
    expect(leaf.keyUsage).toEqual({ critical: false, digitalSignature: true, keyCertSign: false })
  })
})

describe('openssl-made certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nova-openssl-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  function opensslCertificate(curve: string, digest: string): Uint8Array {
    const out = join(dir, `${curve}-${digest}.der`)
    const args = ['req', '-x509', '-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${curve}`, `-${digest}`, '-nodes']
    execFileSync(
      'openssl',
      [...args, '-keyout', join(dir, `${curve}.key`), '-subj', '/CN=openssl-made', '-days', '1', '-outform', 'DER', '-out', out],
      { timeout: 20_000, stdio: 'ignore' },
    )
    return new Uint8Array(readFileSync(out))
  }

  test('vector: a P-384 / ecdsa-with-SHA384 certificate parses', () => {
    const parsed = parseCertificate(opensslCertificate('P-384', 'sha384'))
    expect(parsed.publicKey).toHaveLength(97)
    expect(parsed.basicConstraints?.ca).toBe(true)
  })

  test('error: P-256 and ecdsa-with-SHA256 certificates are outside the profile', () => {
    expect(failure(opensslCertificate('P-256', 'sha256'))).toBe('ATTESTATION_CERT_MALFORMED')
    expect(failure(opensslCertificate('P-384', 'sha256'))).toBe('ATTESTATION_CERT_MALFORMED')
  })
})

describe('strict DER and the profile', () => {
  const leaf = leafWith((spec) => spec)

  test('vector: the synthetic leaf parses', () => {
    expect(failure(leaf)).toBeUndefined()
  })

  const cases: readonly [string, () => Uint8Array][] = [
    ['a trailing byte', () => Uint8Array.of(...leaf, 0)],
    ['a truncated certificate', () => leaf.slice(0, -1)],
    [
      'a non-minimal outer length',
      () => {
        // 30 82 LL LL → 30 83 00 LL LL
        expect(leaf[1]).toBe(0x82)
        return Uint8Array.of(0x30, 0x83, 0x00, ...leaf.subarray(2))
      },
    ],
    ['an indefinite outer length', () => Uint8Array.of(0x30, 0x80, ...leaf.subarray(4), 0, 0)],
    ['over 1024 bytes', () => derSequence(leaf.subarray(4), new Uint8Array(1024))],
    ['a negative serial', () => leafWith((s) => ({ ...s, serial: derTlv(0x02, Uint8Array.of(0x80, 1)) }))],
    ['a non-minimal serial', () => leafWith((s) => ({ ...s, serial: derTlv(0x02, Uint8Array.of(0x00, 0x01)) }))],
    [
      'keyUsage with a trailing zero bit (not DER)',
      () => leafWith((s) => ({ ...s, extensions: [extensions.basicConstraints({ ca: false }), kuRaw([0x00, 0x80])] })),
    ],
    [
      'keyUsage with a set unused bit',
      () => leafWith((s) => ({ ...s, extensions: [extensions.basicConstraints({ ca: false }), kuRaw([0x07, 0x81])] })),
    ],
    [
      'basicConstraints with cA FALSE encoded',
      () =>
        leafWith((s) => ({
          ...s,
          extensions: [raw('2.5.29.19', derSequence(derBoolean(false))), extensions.keyUsage([0], false)],
        })),
    ],
    [
      'basicConstraints with a negative pathLen',
      () =>
        leafWith((s) => ({
          ...s,
          extensions: [raw('2.5.29.19', derSequence(derBoolean(true), derTlv(0x02, Uint8Array.of(0xff)))), extensions.keyUsage([0], false)],
        })),
    ],
    ['a BIT STRING public key with unused bits', () => leafWith((s) => ({ ...s, spki: derSequence(s.spki.subarray(2, 20), derTlv(0x03, Uint8Array.of(1, ...s.spki.subarray(23)))) }))],
  ]
  test.each(cases)('error: %s is CERT_MALFORMED', (_name, build) => {
    expect(failure(build())).toBe('ATTESTATION_CERT_MALFORMED')
  })

  test('error: a v1 certificate (no [0] version), an empty [3] and a subjectUniqueID are CERT_MALFORMED', () => {
    // Rebuilt from the parsed parts: the synthetic writer always writes [0] v3 and extensions.
    const [tbs, algorithm, signature] = readDerSequence(parseDer(leaf), 'certificate')
    const fields = readDerSequence(tbs, 'tbs').map((field) => field.tlv)
    const rebuild = (tbsFields: readonly Uint8Array[]): Uint8Array => derSequence(derSequence(...tbsFields), algorithm!.tlv, signature!.tlv)
    expect(failure(rebuild(fields))).toBeUndefined()
    expect(failure(rebuild(fields.slice(1)))).toBe('ATTESTATION_CERT_MALFORMED')
    expect(failure(rebuild([...fields.slice(0, -1), derTlv(0xa3, derSequence())]))).toBe('ATTESTATION_CERT_MALFORMED')
    expect(failure(rebuild([...fields.slice(0, -1), derTlv(0x82, Uint8Array.of(0, 1)), fields.at(-1)!]))).toBe('ATTESTATION_CERT_MALFORMED')
  })
})

/** A keyUsage extension with raw BIT STRING content. */
function kuRaw(content: readonly number[]): Uint8Array {
  return raw('2.5.29.15', derTlv(0x03, Uint8Array.from(content)), true)
}

function raw(oid: string, value: Uint8Array, critical = true): Uint8Array {
  return critical ? derSequence(derOid(oid), derBoolean(true), derOctetString(value)) : derSequence(derOid(oid), derOctetString(value))
}
