/**
 * PROTOCOL §8.4: the sign_cert inner-request pipeline and its check order
 * (csr string → DER/version → key/alg → self-signature → validity).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { signCertRequest, type LeafIdentity } from '../../../core/ca'
import { KmsError } from '../../../core/errors'
import type { Clock, Random } from '../../../core/runtime'
import { VALIDITY, base64ToBytes, bytesToBase64, expectKmsError, pemBody, vectorCa } from './_fixtures'
import { P256, Scratch } from './_openssl'
import { readCertificate, subjectAltNames } from './_x509'

const ca = vectorCa()
const scratch = new Scratch()
afterAll(() => scratch.remove())

const IDENTITY: LeafIdentity = { appId: 12, instanceId: 99, instanceUrl: 'https://app.example.org' }
const NOW_MS = 1_767_225_600_123 // 2026-01-01T00:00:00.123Z

/** A clock and random source that count their use. */
function runtime(): { clock: Clock; random: Random; uses: { clock: number; random: number } } {
  const uses = { clock: 0, random: 0 }
  return {
    uses,
    clock: { nowMs: () => (uses.clock++, NOW_MS) },
    random: { bytes: (length) => (uses.random++, new Uint8Array(length).fill(0xee)) },
  }
}

function run(request: unknown, injected = runtime()) {
  return signCertRequest({ request, identity: IDENTITY, dnsSuffix: '', validity: VALIDITY, ...ca, clock: injected.clock, random: injected.random })
}

let csr = ''
let rsaCsr = ''
beforeAll(() => {
  csr = scratch.csr('pipeline', P256, [], '/CN=kms')
  rsaCsr = scratch.csr('pipeline-rsa', ['-newkey', 'rsa:2048'])
})

describe('signCertRequest', () => {
  test('behavior: a valid request gets a 7-day leaf for the registry identity', () => {
    const injected = runtime()
    const response = run({ csr }, injected)
    expect(response.app_id).toBe(12)
    expect(response.not_after).toBe('2026-01-08T00:00:00Z')
    expect(response.serial).toBe('6eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee')
    expect(response.ca_certificate).toBe(ca.caCertificate.pem)
    expect(new TextDecoder().decode(readCertificate(response.certificate).subject)).toContain('app-12')
    expect(injected.uses).toEqual({ clock: 1, random: 1 })
  })

  test('behavior: CA_DNS_SUFFIX reaches the leaf: a DNS SAN only for a host in app-<app_id>.<suffix> (§8.5)', () => {
    const names = (identity: LeafIdentity, dnsSuffix: string) =>
      subjectAltNames(readCertificate(signCertRequest({ request: { csr }, identity, dnsSuffix, validity: VALIDITY, ...ca, ...runtime() }).certificate))
    expect(names(IDENTITY, '')).toEqual([[0x86, 'nova://app/12/instance/99']])
    expect(names(IDENTITY, 'example.org')).toEqual([[0x86, 'nova://app/12/instance/99']])
    expect(names({ ...IDENTITY, instanceUrl: 'https://eu.app-12.example.org' }, 'example.org')).toEqual([
      [0x86, 'nova://app/12/instance/99'],
      [0x82, 'eu.app-12.example.org'],
    ])
    expect(names({ ...IDENTITY, instanceUrl: 'https://eu.app-12.example.org' }, '')).toEqual([[0x86, 'nova://app/12/instance/99']])
    // The app's zone under the operator's suffix, not under any other.
    expect(names({ ...IDENTITY, instanceUrl: 'https://eu.app-12.example.org' }, 'example.com')).toEqual([[0x86, 'nova://app/12/instance/99']])
  })

  test('behavior: validity_seconds sets notAfter; extra fields are ignored', () => {
    expect(run({ csr, validity_seconds: 60, app_id: 1, subject: 'CN=kms' }).not_after).toBe('2026-01-01T00:01:00Z')
  })

  test.each([
    ['no csr', {}],
    ['csr null', { csr: null }],
    ['csr a number', { csr: 42 }],
    ['csr bytes as an array', { csr: [48, 130] }],
    ['csr an object', { csr: { pem: 'x' } }],
    ['a request that is a string', 'csr'],
    ['a request that is null', null],
    ['a request that is an array', [{ csr: 'x' }]],
    ['csr only on the prototype', Object.create({ csr: 'inherited' }) as object],
  ])('error: %s → Missing \'csr\' field', (_, request) => {
    expectKmsError(() => run(request), 'bad_request', "Missing 'csr' field")
  })

  test.each([
    ['2592001', 2_592_001],
    ['0', 0],
    ['1.5', 1.5],
    ['"3600"', '3600'],
    ['null', null],
  ])('error: validity_seconds %s', (_, validity) => {
    expectKmsError(() => run({ csr, validity_seconds: validity }), 'bad_request', "'validity_seconds' must be in range 1..2592000")
  })

  describe('check order (PROTOCOL §8.4)', () => {
    test('behavior: a missing csr is reported before a bad validity', () => {
      expectKmsError(() => run({ validity_seconds: 0 }), 'bad_request', "Missing 'csr' field")
    })

    test('behavior: malformed DER before an RSA key before a bad validity', () => {
      expectKmsError(() => run({ csr: 'garbage', validity_seconds: 0 }), 'invalid_csr', 'Invalid CSR: not PEM or base64')
      expectKmsError(() => run({ csr: rsaCsr, validity_seconds: 0 }), 'unsupported_key', 'Unsupported key type: RSA')
    })

    test('behavior: a bad self-signature before a bad validity', () => {
      const broken = base64ToBytes(pemBody(csr))
      broken[broken.length - 1]! ^= 1
      expectKmsError(() => run({ csr: bytesToBase64(broken), validity_seconds: 0 }), 'invalid_csr', 'Invalid CSR: signature does not verify')
    })

    test('behavior: no randomness is drawn and no clock read for a refused request', () => {
      const injected = runtime()
      expect(() => run({ csr, validity_seconds: 0 }, injected)).toThrow(KmsError)
      expect(injected.uses).toEqual({ clock: 0, random: 0 })
    })
  })
})
