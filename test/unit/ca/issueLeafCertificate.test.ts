/**
 * PROTOCOL §8.5–§8.6: the leaf profile, checked by OpenSSL and by the strict DER reader
 * (§13 items 97–101 and 103).
 */
import { sha1 } from '@noble/hashes/legacy.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildCaCertificate, deriveCaKey, issueLeafCertificate, parseCsr, type LeafIdentity } from '../../../core/ca'
import { bytesToHex, readDerTime } from '../../../core/encoding'
import { VALIDITY, vectorCa } from './_fixtures'
import { ED25519, P256, P384, Scratch } from './_openssl'
import { readCertificate, subjectAltNames, type CertificateView } from './_x509'

const { caKey, caCertificate } = vectorCa()
const scratch = new Scratch()
beforeAll(() => scratch.write('ca.pem', caCertificate.pem))
afterAll(() => scratch.remove())

const IDENTITY: LeafIdentity = { appId: 7, instanceId: 3, instanceUrl: 'https://Node-1.App-7.Example.COM.:8443/path' }
/** `CA_DNS_SUFFIX` as readConfig returns it: app 7's zone is `app-7.example.com`. */
const SUFFIX = 'example.com'
const SERIAL = Uint8Array.from({ length: 16 }, (_, index) => 0xa0 + index)
/** The wall clock, so that `openssl verify` (which checks validity against now) agrees. */
const realNow = (): number => Math.floor(Date.now() / 1000)

function issue(csr: string, overrides: Partial<Parameters<typeof issueLeafCertificate>[0]> = {}) {
  return issueLeafCertificate({
    caKey,
    caCertificate,
    csr: parseCsr(csr),
    identity: IDENTITY,
    dnsSuffix: SUFFIX,
    validitySeconds: VALIDITY.defaultSeconds,
    nowSeconds: realNow(),
    serial16: SERIAL,
    ...overrides,
  })
}

describe('openssl verify', () => {
  test.each([
    ['P-256', P256],
    ['P-384', P384],
    ['Ed25519', ED25519],
  ] as const)('behavior: a leaf for an OpenSSL %s CSR verifies against the CA, for TLS server and client', (name, keyArgs) => {
    const leaf = issue(scratch.csr(`verify-${name}`, keyArgs))
    scratch.write(`${name}.leaf.pem`, leaf.certificate)
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = scratch.ok(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', 'ca.pem', `${name}.leaf.pem`])
      expect(out.trim()).toBe(`${name}.leaf.pem: OK`)
    }
    // The issued public key is the CSR's, so the requester's private key matches the leaf.
    scratch.ok(['x509', '-in', `${name}.leaf.pem`, '-noout', '-pubkey', '-out', `${name}.leaf.pub`])
    scratch.ok(['pkey', '-in', `verify-${name}.key`, '-pubout', '-out', `${name}.key.pub`])
    expect(scratch.read(`${name}.leaf.pub`)).toBe(scratch.read(`${name}.key.pub`))
  })

  test('error: a leaf from another cluster\'s CA (same name, other secret) does not verify', () => {
    const otherKey = deriveCaKey(new Uint8Array(32).fill(9))
    const leaf = issueLeafCertificate({
      caKey: otherKey,
      caCertificate: buildCaCertificate({ caKey: otherKey, kmsAppId: 49 }),
      csr: parseCsr(scratch.csr('foreign', P256)),
      identity: IDENTITY,
      dnsSuffix: SUFFIX,
      validitySeconds: 60,
      nowSeconds: realNow(),
      serial16: SERIAL,
    })
    scratch.write('foreign.leaf.pem', leaf.certificate)
    expect(scratch.run(['verify', '-CAfile', 'ca.pem', 'foreign.leaf.pem']).status).not.toBe(0)
  })
})

describe('openssl x509 -text', () => {
  let text = ''
  let now = 0
  beforeAll(() => {
    now = realNow()
    const leaf = issue(scratch.csr('text', P256), { nowSeconds: now })
    scratch.write('text.leaf.pem', leaf.certificate)
    text = scratch.ok(['x509', '-in', 'text.leaf.pem', '-noout', '-text'])
  })

  test('behavior: the enforced subject and the CA as issuer', () => {
    expect(text).toContain('Subject: O = Nova App, CN = app-7\n')
    expect(text).toContain('Issuer: O = Nova KMS, OU = kms-app-49, CN = Nova KMS CA\n')
    expect(text).toContain('Version: 3 (0x2)')
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256')
  })

  test('behavior: BC CA:FALSE and KU digitalSignature, both critical; EKU serverAuth, clientAuth', () => {
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/)
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Digital Signature\n/)
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/)
  })

  test('behavior: SAN holds the instance URI, then the registry host (in the app\'s zone) as a DNS name', () => {
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+URI:nova:\/\/app\/7\/instance\/3, DNS:node-1\.app-7\.example\.com\n/)
  })

  test('behavior: SKI is SHA-1 of the leaf key, AKI is the CA SKI', () => {
    const ski = bytesToHex(sha1(parseCsr(scratch.read('text.csr')).publicKey)).toUpperCase().replace(/(..)(?!$)/g, '$1:')
    expect(text).toMatch(new RegExp(`X509v3 Subject Key Identifier: \\n\\s+${ski}\\n`))
    expect(text).toMatch(/X509v3 Authority Key Identifier: \n\s+9B:17:89:6E:44:4B:85:5E:4F:6F:A1:C0:0F:57:0C:36:45:8C:2E:5C\n/)
  })

  test('behavior: validity is 7 days by default, from now − 60 s', () => {
    const dates = scratch.ok(['x509', '-in', 'text.leaf.pem', '-noout', '-startdate', '-enddate'])
    const [start, end] = dates.trim().split('\n').map((line) => Date.parse(line.split('=')[1]!) / 1000)
    expect(start).toBe(now - 60)
    expect(end).toBe(now + 604_800)
  })

  test('behavior: openssl reads the serial as the response field', () => {
    const leaf = issue(scratch.csr('serial', P256))
    scratch.write('serial.leaf.pem', leaf.certificate)
    const serial = scratch.ok(['x509', '-in', 'serial.leaf.pem', '-noout', '-serial']).trim()
    expect(serial).toBe(`serial=${leaf.serial.toUpperCase()}`)
  })
})

describe('the CSR cannot choose anything but the key', () => {
  test.each([
    ['CN=kms', '/CN=kms', [], ['CN = kms']],
    ['another app\'s name', '/O=Nova App/CN=app-8', [], ['app-8']],
    ['a wildcard SAN', '/CN=x', ['-addext', 'subjectAltName=DNS:*.example.com,URI:nova://app/8/instance/1'], ['*.example.com', 'app/8']],
    ['CA:true', '/CN=x', ['-addext', 'basicConstraints=critical,CA:TRUE,pathlen:5'], ['CA:TRUE', 'pathlen']],
    ['keyCertSign', '/CN=x', ['-addext', 'keyUsage=critical,keyCertSign,cRLSign'], ['Certificate Sign', 'CRL Sign']],
    ['codeSigning', '/CN=x', ['-addext', 'extendedKeyUsage=codeSigning'], ['Code Signing']],
  ] as const)('behavior: a CSR asking for %s gets a certificate without it', (name, subject, extra, absent) => {
    const file = `ask-${name.replace(/[^a-z]/gi, '')}`
    const leaf = issue(scratch.csr(file, P256, extra, subject))
    scratch.write(`${file}.leaf.pem`, leaf.certificate)
    const text = scratch.ok(['x509', '-in', `${file}.leaf.pem`, '-noout', '-text'])
    for (const fragment of absent) expect(text).not.toContain(fragment)
    expect(text).toContain('Subject: O = Nova App, CN = app-7\n')
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/)
  })
})

describe('the DER profile', () => {
  let csrPem = ''
  let view: CertificateView
  beforeAll(() => {
    csrPem = scratch.csr('profile', P256)
    view = readCertificate(issue(csrPem).certificate)
  })

  test('behavior: extensions in §8.5 order, only the first two critical, exact BC and KU bytes', () => {
    expect(view.extensions.map(({ oid, critical }) => [oid, critical])).toEqual([
      ['2.5.29.19', true],
      ['2.5.29.15', true],
      ['2.5.29.37', false],
      ['2.5.29.17', false],
      ['2.5.29.14', false],
      ['2.5.29.35', false],
    ])
    expect(bytesToHex(view.extensions[0]!.value)).toBe('3000')
    expect(bytesToHex(view.extensions[1]!.value)).toBe('03020780')
    expect(bytesToHex(view.extensions[2]!.value)).toBe('301406082b0601050507030106082b06010505070302')
    expect(bytesToHex(view.extensions[5]!.value)).toBe(`30168014${bytesToHex(caCertificate.subjectKeyIdentifier)}`)
  })

  test('behavior: the issuer is the CA subject, byte for byte; the SPKI is the CSR\'s', () => {
    expect(view.issuer).toEqual(caCertificate.subject)
    expect(view.subjectPublicKeyInfo).toEqual(parseCsr(csrPem).subjectPublicKeyInfo)
  })

  test('behavior: the CA signature is low-S', () => {
    expect(view.signature.s <= 0x7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8n).toBe(true)
  })
})

describe('subjectAltName dNSName (PROTOCOL §8.5 item 8)', () => {
  let csr = ''
  beforeAll(() => {
    csr = scratch.csr('san', P256)
  })

  const sans = (instanceUrl: string, dnsSuffix: string = SUFFIX, appId = 7) =>
    subjectAltNames(readCertificate(issue(csr, { identity: { ...IDENTITY, appId, instanceUrl }, dnsSuffix }).certificate))
  const uriOnly = (appId = 7) => [[0x86, `nova://app/${appId}/instance/3`]]

  describe('the host is a DNS name, normalised', () => {
    test.each([
      ['https://node-1.app-7.example.com:8443', SUFFIX, 'node-1.app-7.example.com'],
      ['https://app-7.example.com', SUFFIX, 'app-7.example.com'],
      ['https://NODE.App-7.Example.COM./', SUFFIX, 'node.app-7.example.com'],
      ['https://APP-7.EXAMPLE.COM', SUFFIX, 'app-7.example.com'],
      ['https://app-7.example.com./', SUFFIX, 'app-7.example.com'],
      ['http://app-7.localhost:8000', 'localhost', 'app-7.localhost'],
      ['https://xn--bcher-kva.app-7.example', 'example', 'xn--bcher-kva.app-7.example'],
      ['https://bücher.app-7.example', 'example', 'xn--bcher-kva.app-7.example'],
      ['https://a1.b-c.app-7.d0/', 'd0', 'a1.b-c.app-7.d0'],
      ['https://a.b.c.app-7.apps.example.co.uk/', 'apps.example.co.uk', 'a.b.c.app-7.apps.example.co.uk'],
      [`https://${'a'.repeat(63)}.app-7.example.com`, SUFFIX, `${'a'.repeat(63)}.app-7.example.com`],
      [`https://${Array(3).fill('a'.repeat(62)).join('.')}.${'b'.repeat(56)}.app-7.x`, 'x', `${Array(3).fill('a'.repeat(62)).join('.')}.${'b'.repeat(56)}.app-7.x`],
    ])('behavior: %s under %s gives DNS:%s', (instanceUrl, dnsSuffix, dnsName) => {
      expect(sans(instanceUrl, dnsSuffix)).toEqual([...uriOnly(), [0x82, dnsName]])
    })

    test('behavior: the boundary cases above are 253 and 254 characters long', () => {
      const name = (last: number) => `${Array(3).fill('a'.repeat(62)).join('.')}.${'b'.repeat(last)}.app-7.x`
      expect([name(56).length, name(57).length]).toEqual([253, 254])
    })

    test.each([
      ['an IPv4 host', 'https://10.0.0.5:8000'],
      ['an IPv4 host in shorthand', 'http://127.1/'],
      ['an IPv4 host in hex', 'http://0x7f.0.0.1/'],
      ['a numeric top label in an opaque host', 'nova://app-7.1.2.3.4/', '1.2.3.4'],
      ['an IPv6 host', 'https://[::1]:8443/'],
      ['an empty URL', ''],
      ['a bare host without scheme', 'node.app-7.example.com'],
      ['host:port without scheme', 'app-7.example.com:8000'],
      ['a file URL', 'file:///etc/hosts'],
      ['an underscore', 'https://my_node.app-7.example.com/'],
      ['a label ending in a hyphen', 'https://node-.app-7.example.com/'],
      ['a label starting with a hyphen', 'nova://-node.app-7.example.com/'],
      ['an empty label', 'nova://node..app-7.example.com/'],
      ['two trailing dots', 'https://node.app-7.example.com../'],
      ['a 64-character label', `https://${'a'.repeat(64)}.app-7.example.com/`],
      ['a 254-character name', `https://${Array(3).fill('a'.repeat(62)).join('.')}.${'b'.repeat(57)}.app-7.x/`, 'x'],
      ['a percent-encoded opaque host', 'nova://%41pp-7.example.com/'],
      ['a data URL', 'data:text/plain,app-7.example.com'],
    ])('behavior: %s gives no DNS name', (_, instanceUrl, dnsSuffix = SUFFIX) => {
      expect(sans(instanceUrl, dnsSuffix)).toEqual(uriOnly())
    })
  })

  describe('the host lies in the app\'s own zone app-<app_id>.<CA_DNS_SUFFIX> (issue 12, finding 9)', () => {
    test.each([
      ['another app\'s zone', 'https://app-8.example.com'],
      ['a host inside another app\'s zone', 'https://node-1.app-8.example.com'],
      ['another app whose id starts with ours', 'https://app-77.example.com'],
      ['a label that merely ends in app-7', 'https://evil-app-7.example.com'],
      ['the bare suffix', 'https://example.com'],
      ['a host under the suffix outside any app zone', 'https://node-1.example.com'],
      ['a lookalike: the zone as a prefix of another domain', 'https://app-7.example.com.evil.com'],
      ['a lookalike: the zone under a longer suffix label', 'https://app-7.myexample.com'],
      ['a lookalike: a host that ends like the suffix', 'https://app-7.evilexample.com'],
      ['the zone under another suffix', 'https://app-7.example.org'],
      ['an unrelated host', 'https://bank.example.net'],
      ['an IP host', 'https://127.0.0.1:8443'],
      ['an IPv6 host', 'https://[2001:db8::7]/'],
    ])('behavior: %s gives no DNS name', (_, instanceUrl) => {
      expect(sans(instanceUrl)).toEqual(uriOnly())
    })

    test('behavior: the app id is the registry one: app 70 gets no name in app 7\'s zone, and app 7 none in 70\'s', () => {
      expect(sans('https://app-7.example.com', SUFFIX, 70)).toEqual(uriOnly(70))
      expect(sans('https://app-70.example.com', SUFFIX, 7)).toEqual(uriOnly(7))
      expect(sans('https://app-70.example.com', SUFFIX, 70)).toEqual([...uriOnly(70), [0x82, 'app-70.example.com']])
    })

    test.each([
      ['empty (the default)', ''],
      ['uppercase', 'Example.com'],
      ['with a trailing dot', 'example.com.'],
      ['with a leading dot', '.example.com'],
      ['a wildcard', '*.example.com'],
      ['with a space', ' example.com'],
      ['an IPv4 address', '127.0.0.1'],
    ])('behavior: a suffix that is %s issues no DNS name at all', (_, dnsSuffix) => {
      expect(sans('https://app-7.example.com', dnsSuffix)).toEqual(uriOnly())
      expect(sans('https://node.app-7.example.com', dnsSuffix)).toEqual(uriOnly())
    })

    test('behavior: a one-label suffix works like any other', () => {
      expect(sans('https://app-7.com', 'com')).toEqual([...uriOnly(), [0x82, 'app-7.com']])
      expect(sans('https://app-8.com', 'com')).toEqual(uriOnly())
    })
  })

  test.each([
    ['an IP host', 'https://10.0.0.5:8000', SUFFIX],
    ['another app\'s host', 'https://app-8.example.com', SUFFIX],
    ['a lookalike host', 'https://app-7.example.com.evil.com', SUFFIX],
    ['an empty suffix', 'https://app-7.example.com', ''],
  ])('behavior: openssl shows no DNS entry for %s, and the leaf still verifies', (name, instanceUrl, dnsSuffix) => {
    const file = `nodns-${name.replace(/[^a-z]/gi, '')}`
    const leaf = issue(csr, { identity: { ...IDENTITY, instanceUrl }, dnsSuffix, nowSeconds: realNow() })
    scratch.write(`${file}.leaf.pem`, leaf.certificate)
    const text = scratch.ok(['x509', '-in', `${file}.leaf.pem`, '-noout', '-ext', 'subjectAltName'])
    expect(text).toMatch(/Subject Alternative Name: \n\s+URI:nova:\/\/app\/7\/instance\/3\n$/)
    expect(scratch.ok(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', 'ca.pem', `${file}.leaf.pem`]).trim()).toBe(`${file}.leaf.pem: OK`)
  })

  test('behavior: openssl shows the DNS entry for a host in the app\'s zone', () => {
    const leaf = issue(csr, { identity: { ...IDENTITY, instanceUrl: 'https://eu-1.App-7.example.com./' } })
    scratch.write('zone.leaf.pem', leaf.certificate)
    const text = scratch.ok(['x509', '-in', 'zone.leaf.pem', '-noout', '-ext', 'subjectAltName'])
    expect(text).toMatch(/Subject Alternative Name: \n\s+URI:nova:\/\/app\/7\/instance\/3, DNS:eu-1\.app-7\.example\.com\n$/)
  })
})

describe('validity, serial and the §8.6 response', () => {
  let csr = ''
  beforeAll(() => {
    csr = scratch.csr('fields', P256)
  })

  test('behavior: the response fields', () => {
    const leaf = issue(csr, { nowSeconds: 1_767_225_600, validitySeconds: 3600 }) // 2026-01-01T00:00:00Z
    expect(Object.keys(leaf).sort()).toEqual(['app_id', 'ca_certificate', 'certificate', 'not_after', 'serial'])
    expect(leaf.app_id).toBe(7)
    expect(leaf.ca_certificate).toBe(caCertificate.pem)
    expect(leaf.not_after).toBe('2026-01-01T01:00:00Z')
    expect(leaf.serial).toBe('20a1a2a3a4a5a6a7a8a9aaabacadaeaf')
    expect(leaf.certificate).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/)
  })

  test.each([
    ['a clear top bit', 'a0', '20'],
    ['a top byte of 0x80', '80', '01'],
    ['a zero top byte', '00', '01'],
    ['0x7f', '7f', '7f'],
    ['0x01', '01', '01'],
  ])('behavior: the serial top-byte rule with %s', (_, top, expected) => {
    const serial16 = Uint8Array.from({ length: 16 }, (_, index) => (index === 0 ? parseInt(top, 16) : 0x80 + index))
    const before = serial16.slice()
    const leaf = issue(csr, { serial16 })
    const view = readCertificate(leaf.certificate)
    expect(view.serial.length).toBe(16)
    expect(bytesToHex(view.serial)).toBe(leaf.serial)
    expect(leaf.serial.slice(0, 2)).toBe(expected)
    expect(leaf.serial.slice(2)).toBe(bytesToHex(serial16.subarray(1)))
    expect(serial16).toEqual(before) // the caller's bytes are not modified
  })

  test('behavior: UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    const lastUtc = 2_524_607_999 // 2049-12-31T23:59:59Z
    const before = readCertificate(issue(csr, { nowSeconds: lastUtc - 10, validitySeconds: 10 }).certificate)
    expect(before.notAfter.tag).toBe(0x17)
    expect(readDerTime(before.notAfter, 'notAfter')).toBe(lastUtc)
    const after = readCertificate(issue(csr, { nowSeconds: lastUtc - 10, validitySeconds: 11 }).certificate)
    expect(after.notAfter.tag).toBe(0x18)
    expect(new TextDecoder().decode(after.notAfter.content)).toBe('20500101000000Z')
    expect(after.notBefore.tag).toBe(0x17)
  })

  test('behavior: the same inputs give the same leaf (RFC 6979)', () => {
    expect(issue(csr, { nowSeconds: 1_767_225_600 })).toEqual(issue(csr, { nowSeconds: 1_767_225_600 }))
  })

  test('error: malformed trusted inputs are caller bugs (TypeError/RangeError)', () => {
    expect(() => issue(csr, { serial16: new Uint8Array(15) })).toThrow(RangeError)
    expect(() => issue(csr, { validitySeconds: 0 })).toThrow(RangeError)
    expect(() => issue(csr, { nowSeconds: 1.5 })).toThrow(TypeError)
    expect(() => issue(csr, { identity: { ...IDENTITY, appId: -1 } })).toThrow(RangeError)
    expect(() => issue(csr, { nowSeconds: 253_402_300_000, validitySeconds: 1000 })).toThrow(RangeError)
  })
})
