/**
 * The CA of each cluster epoch (PROTOCOL §8.1–§8.2 with `secret_c`, §7.7 "The CA"): epoch 0
 * is the §8.3 certificate byte for byte; epoch c ≥ 1 ends its subject with
 * `dnQualifier=epoch-<c>`, so two overlapping CAs have different names. Checked against the
 * §5.7 "Key epochs" vectors (also recomputed in Python, test/unit/crypto/epochsPython.test.ts)
 * and by OpenSSL.
 */
import { sha1 } from '@noble/hashes/legacy.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { buildCaCertificate, deriveCaKey, issueLeafCertificate, parseCsr, signCertRequest, type LeafIdentity } from '../../../core/ca'
import { bytesToHex, parseHex } from '../../../core/encoding'
import epochs from '../../vectors/protocol-5.7-epochs.json'
import ca83 from '../../vectors/protocol-8.3-ca.json'
import { casesOf, hex, loadVectors, type VectorCase } from '../crypto/_vectors'
import { VALIDITY, VECTOR_MASTER, base64ToBytes, pemBody } from './_fixtures'
import { P256, Scratch } from './_openssl'
import { readCertificate } from './_x509'

interface CaEpochCase extends VectorCase {
  master_secret: string
  kms_app_id: number
  epoch: number
  seed: string
  d: string
  ski: string
  serial: string
  subject_der: string
  der_length: number
  der_sha256: string
  pem: string
}

const caCases = casesOf<CaEpochCase>(loadVectors(epochs), 'ca_epoch')
const OTHER_SECRET = Uint8Array.from({ length: 32 }, (_, index) => 0x20 + index)
const EPOCH_1_NAME = 'O = Nova KMS, OU = kms-app-49, CN = Nova KMS CA, dnQualifier = epoch-1'
const IDENTITY: LeafIdentity = { appId: 7, instanceId: 3, instanceUrl: 'https://node-1.app-7.example.com' }
const realNow = (): number => Math.floor(Date.now() / 1000)

describe.each(caCases)('PROTOCOL §5.7 "Key epochs": $name', (vector) => {
  const secret = hex(vector.master_secret)
  const build = () => buildCaCertificate({ masterSecret: secret, kmsAppId: vector.kms_app_id, epoch: vector.epoch })

  test('vector: the key is §8.1 with the epoch\'s secret, unchanged', () => {
    const key = deriveCaKey(secret)
    expect(bytesToHex(key.privateKey)).toBe(vector.d)
    expect(bytesToHex(sha1(key.publicKey))).toBe(vector.ski)
  })

  test('vector: subject, serial, SKI, DER length and SHA-256, PEM', () => {
    const ca = build()
    expect(bytesToHex(ca.subject)).toBe(vector.subject_der)
    expect(bytesToHex(ca.subjectKeyIdentifier)).toBe(vector.ski)
    const view = readCertificate(ca.pem)
    expect(bytesToHex(view.serial)).toBe(vector.serial)
    expect(view.issuer).toEqual(ca.subject)
    expect(view.subject).toEqual(ca.subject)
    expect(ca.der.length).toBe(vector.der_length)
    expect(bytesToHex(sha256(ca.der))).toBe(vector.der_sha256)
    expect(ca.fingerprintSha256).toBe(vector.der_sha256)
    expect(ca.pem).toBe(vector.pem)
    expect(base64ToBytes(pemBody(vector.pem))).toEqual(ca.der)
  })
})

describe('buildCaCertificate with an epoch', () => {
  test('vector: epoch 0, given or defaulted, is the §8.3 certificate byte for byte', () => {
    const vector = ca83.cases[0]!
    const master = parseHex(vector.master_secret)!
    expect(buildCaCertificate({ masterSecret: master, kmsAppId: 49, epoch: 0 }).pem).toBe(vector.pem)
    expect(buildCaCertificate({ caKey: deriveCaKey(master), kmsAppId: 49 }).pem).toBe(vector.pem)
  })

  test('behavior: epoch c ≥ 1 appends one RDN, dnQualifier (2.5.4.46) as a PrintableString "epoch-<c>"', () => {
    const epoch0 = buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49 }).subject
    for (const epoch of [1, 12, 4_294_967_295]) {
      const subject = buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49, epoch }).subject
      const value = new TextEncoder().encode(`epoch-${epoch}`)
      // SET { SEQUENCE { OID 2.5.4.46, PrintableString } }
      const rdn = Uint8Array.of(0x31, value.length + 9, 0x30, value.length + 7, 0x06, 0x03, 0x55, 0x04, 0x2e, 0x13, value.length, ...value)
      expect(subject.subarray(2)).toEqual(Uint8Array.of(...epoch0.subarray(2), ...rdn))
      expect(subject[1]).toBe(epoch0[1]! + rdn.length)
    }
  })

  test('behavior: the same secret, app and epoch give the same bytes; the epoch changes only the name', () => {
    const first = buildCaCertificate({ masterSecret: VECTOR_MASTER.slice(), kmsAppId: 49, epoch: 1 })
    const second = buildCaCertificate({ caKey: deriveCaKey(VECTOR_MASTER.slice()), kmsAppId: 49, epoch: 1 })
    expect(second.der).toEqual(first.der)
    const epoch0 = buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49 })
    expect(readCertificate(first.pem).subjectPublicKeyInfo).toEqual(readCertificate(epoch0.pem).subjectPublicKeyInfo)
    expect(first.subject).not.toEqual(epoch0.subject)
  })

  test('error: an epoch outside 0..2^32−1 or not an integer is a caller bug', () => {
    expect(() => buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49, epoch: -1 })).toThrowErrorMatchingInlineSnapshot(
      `[RangeError: epoch: expected 0..4294967295, got -1]`,
    )
    expect(() => buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49, epoch: 2 ** 32 })).toThrow(RangeError)
    expect(() => buildCaCertificate({ masterSecret: VECTOR_MASTER, kmsAppId: 49, epoch: 1.5 })).toThrowErrorMatchingInlineSnapshot(
      `[TypeError: epoch: expected an integer, got number]`,
    )
  })
})

describe('OpenSSL on the epoch CAs', () => {
  const scratch = new Scratch()
  const caKey0 = deriveCaKey(VECTOR_MASTER)
  const ca0 = buildCaCertificate({ caKey: caKey0, kmsAppId: 49 })
  // Epoch 1 under the same secret (the vector) and under a fresh one (as a rotation makes it).
  const caKey1 = deriveCaKey(VECTOR_MASTER)
  const ca1 = buildCaCertificate({ caKey: caKey1, kmsAppId: 49, epoch: 1 })
  const caKey1Fresh = deriveCaKey(OTHER_SECRET)
  const ca1Fresh = buildCaCertificate({ caKey: caKey1Fresh, kmsAppId: 49, epoch: 1 })
  let csr = ''
  beforeAll(() => {
    scratch.write('ca0.pem', ca0.pem)
    scratch.write('ca1.pem', ca1.pem)
    scratch.write('ca1-fresh.pem', ca1Fresh.pem)
    scratch.write('both.pem', ca0.pem + ca1Fresh.pem)
    csr = scratch.csr('leaf', P256)
  })
  afterAll(() => scratch.remove())

  const issue = (caKey: typeof caKey0, caCertificate: typeof ca0, file: string) => {
    const leaf = issueLeafCertificate({
      caKey,
      caCertificate,
      csr: parseCsr(csr),
      identity: IDENTITY,
      dnsSuffix: 'example.com',
      validitySeconds: VALIDITY.defaultSeconds,
      nowSeconds: realNow(),
      serial16: new Uint8Array(16).fill(0x5a),
    })
    scratch.write(file, leaf.certificate)
    return leaf
  }
  const verifies = (caFile: string, leafFile: string) => scratch.run(['verify', '-x509_strict', '-CAfile', caFile, leafFile])

  test.each(['ca1.pem', 'ca1-fresh.pem'])('behavior: the epoch-1 CA %s parses, self-verifies and shows its epoch', (file) => {
    expect(scratch.ok(['verify', '-x509_strict', '-CAfile', file, file]).trim()).toBe(`${file}: OK`)
    const text = scratch.ok(['x509', '-in', file, '-noout', '-text'])
    expect(text).toContain(`Issuer: ${EPOCH_1_NAME}\n`)
    expect(text).toContain(`Subject: ${EPOCH_1_NAME}\n`)
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:TRUE, pathlen:0\n/)
    scratch.ok(['x509', '-in', file, '-out', `reencoded-${file}`])
    expect(scratch.read(`reencoded-${file}`)).toBe(scratch.read(file))
  })

  test('behavior: a leaf issued under the epoch-1 CA names it as issuer and verifies against it', () => {
    for (const [caKey, ca, name] of [[caKey1, ca1, 'ca1'], [caKey1Fresh, ca1Fresh, 'ca1-fresh']] as const) {
      const leaf = issue(caKey, ca, `leaf-${name}.pem`)
      expect(leaf.ca_certificate).toBe(ca.pem)
      expect(readCertificate(leaf.certificate).issuer).toEqual(ca.subject)
      expect(scratch.ok(['x509', '-in', `leaf-${name}.pem`, '-noout', '-issuer']).trim()).toBe(`issuer=${EPOCH_1_NAME}`)
      for (const purpose of ['sslserver', 'sslclient']) {
        const out = scratch.ok(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', `${name}.pem`, `leaf-${name}.pem`])
        expect(out.trim()).toBe(`leaf-${name}.pem: OK`)
      }
    }
  })

  test('error: a leaf of the epoch-1 CA does not verify against the epoch-0 CA, even under the same secret', () => {
    issue(caKey1, ca1, 'leaf-same-secret.pem')
    issue(caKey1Fresh, ca1Fresh, 'leaf-fresh-secret.pem')
    for (const leaf of ['leaf-same-secret.pem', 'leaf-fresh-secret.pem']) {
      const run = verifies('ca0.pem', leaf)
      expect(run.status).not.toBe(0)
      expect(run.stdout + run.stderr).toContain('unable to get local issuer certificate')
    }
  })

  test('error: and an epoch-0 leaf does not verify against an epoch-1 CA', () => {
    issue(caKey0, ca0, 'leaf-epoch0.pem')
    for (const caFile of ['ca1.pem', 'ca1-fresh.pem']) expect(verifies(caFile, 'leaf-epoch0.pem').status).not.toBe(0)
    expect(verifies('ca0.pem', 'leaf-epoch0.pem').stdout.trim()).toBe('leaf-epoch0.pem: OK')
  })

  test('behavior: a relying party that trusts both CAs during the overlap accepts leaves of either', () => {
    issue(caKey0, ca0, 'overlap-0.pem')
    issue(caKey1Fresh, ca1Fresh, 'overlap-1.pem')
    expect(verifies('both.pem', 'overlap-0.pem').stdout.trim()).toBe('overlap-0.pem: OK')
    expect(verifies('both.pem', 'overlap-1.pem').stdout.trim()).toBe('overlap-1.pem: OK')
  })

  test('behavior: signCertRequest issues under the epoch-1 CA it is given', () => {
    const response = signCertRequest({
      request: { csr },
      identity: IDENTITY,
      dnsSuffix: '',
      validity: VALIDITY,
      caKey: caKey1Fresh,
      caCertificate: ca1Fresh,
      clock: { nowMs: () => realNow() * 1000 },
      random: { bytes: (length) => new Uint8Array(length).fill(0x11) },
    })
    expect(response.ca_certificate).toBe(ca1Fresh.pem)
    scratch.write('signed.pem', response.certificate)
    expect(verifies('ca1-fresh.pem', 'signed.pem').stdout.trim()).toBe('signed.pem: OK')
    expect(verifies('ca0.pem', 'signed.pem').status).not.toBe(0)
  })
})
