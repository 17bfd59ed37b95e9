/**
 * PROTOCOL §8.1–§8.3: the deterministic CA key and its byte-identical certificate
 * (§13 items 94–96), checked against the §8.3 vector and by OpenSSL.
 */
import { p256 } from '@noble/curves/nist.js'
import { bytesToNumberBE } from '@noble/curves/utils.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha1 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildCaCertificate, deriveCaKey } from '../../../core/ca'
import { bytesToHex, parseHex } from '../../../core/encoding'
import vectors from '../../vectors/protocol-8.3-ca.json'
import { base64ToBytes, pemBody } from './_fixtures'
import { Scratch } from './_openssl'
import { readCertificate } from './_x509'

if (vectors.cases.length === 0) throw new Error('protocol-8.3-ca.json has no cases')

const encoder = new TextEncoder()

describe.each(vectors.cases)('PROTOCOL §8.3 $name', (vector) => {
  const master = parseHex(vector.master_secret)!

  test('vector: the §8.1 seed, and d = (int_be(seed) mod (n−1)) + 1', () => {
    const seed = hkdf(sha256, master, encoder.encode('nova-kms:ca'), encoder.encode('ca-root-p256'), 48)
    expect(bytesToHex(seed)).toBe(vector.seed)
    const order = p256.Point.Fn.ORDER
    const d = (bytesToNumberBE(seed) % (order - 1n)) + 1n
    expect(d.toString(16).padStart(64, '0')).toBe(vector.d)
    expect(bytesToHex(deriveCaKey(master).privateKey)).toBe(vector.d)
  })

  test('vector: the public key is d·G, uncompressed', () => {
    const key = deriveCaKey(master)
    expect(key.publicKey).toEqual(p256.getPublicKey(parseHex(vector.d)!, false))
    expect(key.publicKey.length).toBe(65)
  })

  test('vector: SKI is SHA-1 of the 65-byte point', () => {
    const { publicKey } = deriveCaKey(master)
    const ca = buildCaCertificate({ masterSecret: master, kmsAppId: vector.kms_app_id })
    expect(bytesToHex(sha1(publicKey))).toBe(vector.ski)
    expect(bytesToHex(ca.subjectKeyIdentifier)).toBe(vector.ski)
  })

  test('vector: serial, DER length and SHA-256, fingerprint', () => {
    const ca = buildCaCertificate({ masterSecret: master, kmsAppId: vector.kms_app_id })
    expect(bytesToHex(readCertificate(ca.pem).serial)).toBe(vector.serial)
    expect(ca.der.length).toBe(vector.der_length)
    expect(bytesToHex(sha256(ca.der))).toBe(vector.der_sha256)
    expect(ca.fingerprintSha256).toBe(vector.der_sha256)
  })

  test('vector: the PEM is byte for byte the §8.3 text', () => {
    const ca = buildCaCertificate({ masterSecret: master, kmsAppId: vector.kms_app_id })
    expect(ca.pem).toBe(vector.pem)
    expect(base64ToBytes(pemBody(vector.pem))).toEqual(ca.der)
  })
})

describe('buildCaCertificate', () => {
  const master = parseHex(vectors.cases[0]!.master_secret)!

  test('behavior: two fresh builds from the same secret are byte-identical', () => {
    const first = buildCaCertificate({ masterSecret: master.slice(), kmsAppId: 49 })
    const second = buildCaCertificate({ caKey: deriveCaKey(master.slice()), kmsAppId: 49 })
    expect(second.der).toEqual(first.der)
    expect(second.pem).toBe(first.pem)
    expect(second.fingerprintSha256).toBe(first.fingerprintSha256)
  })

  test('behavior: the signature is low-S with minimal INTEGERs, and verifies over the TBS', () => {
    const ca = buildCaCertificate({ masterSecret: master, kmsAppId: 49 })
    const view = readCertificate(ca.pem) // the strict reader refuses non-minimal INTEGERs
    const order = p256.Point.Fn.ORDER
    expect(view.signature.s <= order / 2n).toBe(true)
    const compact = parseHex(view.signature.r.toString(16).padStart(64, '0') + view.signature.s.toString(16).padStart(64, '0'))!
    expect(p256.verify(compact, sha256(view.tbs), deriveCaKey(master).publicKey, { prehash: false })).toBe(true)
  })

  test('behavior: the PEM has 64-character lines and a trailing newline', () => {
    const lines = buildCaCertificate({ masterSecret: master, kmsAppId: 49 }).pem.split('\n')
    expect(lines.at(-1)).toBe('')
    const body = lines.slice(1, -2)
    for (const line of body.slice(0, -1)) expect(line.length).toBe(64)
    expect(body.at(-1)!.length).toBeLessThanOrEqual(64)
  })

  test('behavior: KMS_APP_ID only changes the OU; another secret changes the key', () => {
    const app49 = buildCaCertificate({ masterSecret: master, kmsAppId: 49 })
    const app50 = buildCaCertificate({ masterSecret: master, kmsAppId: 50 })
    expect(readCertificate(app50.pem).subjectPublicKeyInfo).toEqual(readCertificate(app49.pem).subjectPublicKeyInfo)
    expect(new TextDecoder().decode(app50.subject)).toContain('kms-app-50')
    const other = buildCaCertificate({ masterSecret: new Uint8Array(32).fill(7), kmsAppId: 49 })
    expect(other.subjectKeyIdentifier).not.toEqual(app49.subjectKeyIdentifier)
  })

  test('error: a master secret that is not 32 bytes is a caller bug, not a wire error', () => {
    expect(() => deriveCaKey(new Uint8Array(31))).toThrow(RangeError)
    expect(() => buildCaCertificate({ masterSecret: new Uint8Array(33), kmsAppId: 49 })).toThrow(RangeError)
    expect(() => buildCaCertificate({ masterSecret: master, kmsAppId: -1 })).toThrow(RangeError)
  })
})

describe('OpenSSL on the CA certificate', () => {
  const scratch = new Scratch()
  const ca = buildCaCertificate({ masterSecret: parseHex(vectors.cases[0]!.master_secret)!, kmsAppId: 49 })
  beforeAll(() => scratch.write('ca.pem', ca.pem))
  afterAll(() => scratch.remove())

  test('behavior: openssl verifies the CA as self-signed (-x509_strict)', () => {
    expect(scratch.ok(['verify', '-x509_strict', '-CAfile', 'ca.pem', 'ca.pem']).trim()).toBe('ca.pem: OK')
  })

  test('behavior: openssl prints the §8.2 profile', () => {
    const text = scratch.ok(['x509', '-in', 'ca.pem', '-noout', '-text'])
    expect(text).toContain('Issuer: O = Nova KMS, OU = kms-app-49, CN = Nova KMS CA')
    expect(text).toContain('Subject: O = Nova KMS, OU = kms-app-49, CN = Nova KMS CA')
    expect(text).toContain('Not Before: Jan  1 00:00:00 2025 GMT')
    expect(text).toContain('Not After : Jan  1 00:00:00 2045 GMT')
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/)
    expect(text).toMatch(/X509v3 Key Usage: critical\n\s+Certificate Sign, CRL Sign\n/)
    expect(text).toMatch(/X509v3 Subject Key Identifier: \n\s+9B:17:89:6E:44:4B:85:5E:4F:6F:A1:C0:0F:57:0C:36:45:8C:2E:5C\n/)
    expect(text).toContain('ASN1 OID: prime256v1')
    expect(scratch.ok(['x509', '-in', 'ca.pem', '-noout', '-fingerprint', '-sha256']).trim().replace(/:/g, '').toLowerCase())
      .toBe(`sha256 fingerprint=${ca.fingerprintSha256}`)
  })

  test('behavior: openssl re-encodes the certificate to the same bytes', () => {
    scratch.ok(['x509', '-in', 'ca.pem', '-out', 'ca-openssl.pem'])
    expect(scratch.read('ca-openssl.pem')).toBe(ca.pem)
  })
})
