/**
 * PROTOCOL §8.4: CSR parsing, checks 2–4, against CSRs made by OpenSSL and by hand
 * (§13 items 97 and 102).
 */
import { p256 } from '@noble/curves/nist.js'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { MAX_CSR_BYTES, parseCsr } from '../../../core/ca'
import { numberToBytesBE } from '@noble/curves/utils.js'
import { concatBytes, derNull, derOctetString, derOid, derSequence, derTlv, derUnsignedInteger } from '../../../core/encoding'
import { algorithm, buildCsrDer, ecSpki, ed25519Signer, OID, p256Signer, subjectName } from './_csrBuilder'
import { base64ToBytes, bytesToBase64, csrPem, expectKmsError, pemBody } from './_fixtures'
import { ED25519, P256, P384, Scratch } from './_openssl'

const scratch = new Scratch()
afterAll(() => scratch.remove())

/** The DER of an OpenSSL CSR. */
function der(pem: string): Uint8Array {
  return base64ToBytes(pemBody(pem))
}

/** The key's SubjectPublicKeyInfo DER, as OpenSSL writes it. */
function opensslSpki(name: string): Uint8Array {
  scratch.ok(['pkey', '-in', `${name}.key`, '-pubout', '-outform', 'DER', '-out', `${name}.spki`])
  return scratch.readBytes(`${name}.spki`)
}

describe('accepted CSRs', () => {
  test.each([
    ['P-256', P256, [], 'P-256'],
    ['P-256 with SHA-384', P256, ['-sha384'], 'P-256'],
    ['P-256 with SHA-512', P256, ['-sha512'], 'P-256'],
    ['P-384', P384, [], 'P-384'],
    ['P-384 with SHA-384', P384, ['-sha384'], 'P-384'],
    ['P-384 with SHA-512', P384, ['-sha512'], 'P-384'],
    ['Ed25519', ED25519, [], 'Ed25519'],
  ] as const)('behavior: an OpenSSL %s CSR is accepted, its SPKI kept byte for byte', (name, keyArgs, extra, keyType) => {
    const file = name.replace(/ /g, '_')
    const pem = scratch.csr(file, keyArgs, extra)
    const parsed = parseCsr(pem)
    expect(parsed.keyType).toBe(keyType)
    expect(parsed.subjectPublicKeyInfo).toEqual(opensslSpki(file))
  })

  describe('text forms', () => {
    let pem = ''
    beforeAll(() => {
      pem = scratch.csr('forms', P256)
    })

    test('behavior: PEM with CRLF line breaks and surrounding whitespace', () => {
      expect(parseCsr(`\n  ${pem.replace(/\n/g, '\r\n')}  \n`).keyType).toBe('P-256')
    })

    test('behavior: the NEW CERTIFICATE REQUEST label', () => {
      expect(parseCsr(csrPem(der(pem), 'NEW CERTIFICATE REQUEST')).keyType).toBe('P-256')
    })

    test('behavior: standard base64 of the DER, on one line', () => {
      expect(parseCsr(pemBody(pem)).keyType).toBe('P-256')
    })

    test('behavior: subject, attributes and requested extensions are read for shape only', () => {
      const busy = scratch.csr('busy', P256, [
        '-addext', 'subjectAltName=DNS:*.example.com,IP:10.0.0.1',
        '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign',
      ], '/C=US/O=Someone Else/OU=x/CN=kms/emailAddress=a@b.c')
      expect(parseCsr(busy).keyType).toBe('P-256')
    })
  })

  test('behavior: a high-S ECDSA signature is accepted (OpenSSL agrees it verifies)', () => {
    const signer = p256Signer({ highS: true })
    const csr = buildCsrDer({ spki: ecSpki(signer.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign })
    scratch.write('high-s.csr', csrPem(csr))
    expect(scratch.run(['req', '-in', 'high-s.csr', '-verify', '-noout']).stderr).toContain('verify OK')
    expect(parseCsr(bytesToBase64(csr)).keyType).toBe('P-256')
  })

  test('behavior: hand-built Ed25519 and empty-subject CSRs are accepted', () => {
    const signer = ed25519Signer()
    const spki = derSequence(derSequence(derOid(OID.ed25519)), concatBytes(Uint8Array.of(0x03, 0x21, 0x00), signer.publicKey))
    const csr = buildCsrDer({ subject: derSequence(), spki, signatureAlgorithm: algorithm(OID.ed25519), sign: signer.sign })
    expect(parseCsr(bytesToBase64(csr))).toEqual({ keyType: 'Ed25519', subjectPublicKeyInfo: spki, publicKey: signer.publicKey })
  })
})

describe('invalid_csr: encoding, size, DER and version (check 2)', () => {
  let valid: Uint8Array = new Uint8Array(0)
  beforeAll(() => {
    valid = der(scratch.csr('valid', P256))
  })

  test.each([
    ['garbage text', 'hello, world'],
    ['base64 with a space', 'MIIB OQ=='],
    ['base64 with a newline outside PEM', 'MIIB\nOQ=='],
    ['unpadded base64', 'MIIBOQ'],
    ['base64url', 'MIIB-_=='],
    ['a PEM block with a foreign label', '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n'],
    ['mismatched PEM labels', '-----BEGIN CERTIFICATE REQUEST-----\nMA==\n-----END NEW CERTIFICATE REQUEST-----\n'],
    ['a PEM body with a tab', '-----BEGIN CERTIFICATE REQUEST-----\nMA==\t\n-----END CERTIFICATE REQUEST-----\n'],
    ['an unterminated PEM block', '-----BEGIN CERTIFICATE REQUEST-----\nMA==\n'],
  ])('error: %s', (_, text) => {
    expectKmsError(() => parseCsr(text), 'invalid_csr', 'Invalid CSR: not PEM or base64')
  })

  test('error: PEM with explanatory text around it', () => {
    const pem = csrPem(valid)
    expectKmsError(() => parseCsr(`Subject: CN=test\n${pem}`), 'invalid_csr', 'Invalid CSR: not PEM or base64')
    expectKmsError(() => parseCsr(`${pem}${pem}`), 'invalid_csr', 'Invalid CSR: not PEM or base64')
  })

  test('error: base64 of garbage bytes, or of nothing', () => {
    expectKmsError(() => parseCsr(bytesToBase64(Uint8Array.of(1, 2, 3, 4, 5))), 'invalid_csr', 'Invalid CSR: malformed DER')
    expectKmsError(() => parseCsr(''), 'invalid_csr', 'Invalid CSR: malformed DER')
  })

  test('error: trailing bytes after the CSR', () => {
    const text = bytesToBase64(concatBytes(valid, Uint8Array.of(0)))
    expectKmsError(() => parseCsr(text), 'invalid_csr', 'Invalid CSR: malformed DER')
  })

  test('error: a truncated CSR', () => {
    expectKmsError(() => parseCsr(bytesToBase64(valid.subarray(0, valid.length - 1))), 'invalid_csr', 'Invalid CSR: malformed DER')
  })

  test('error: a BER long-form length where DER needs the short form', () => {
    // 30 82 LL LL → 30 83 00 LL LL: the same length, not minimally encoded.
    const ber = concatBytes(Uint8Array.of(0x30, 0x83, 0x00), valid.subarray(2))
    expectKmsError(() => parseCsr(bytesToBase64(ber)), 'invalid_csr', 'Invalid CSR: malformed DER')
  })

  test(`error: a DER of ${MAX_CSR_BYTES + 1} bytes or more, however well-formed`, () => {
    const signer = p256Signer()
    const huge = buildCsrDer({
      subject: subjectName('x'.repeat(MAX_CSR_BYTES)),
      spki: ecSpki(signer.publicKey),
      signatureAlgorithm: algorithm(OID.ecdsaWithSha256),
      sign: signer.sign,
    })
    expect(huge.length).toBeGreaterThan(MAX_CSR_BYTES)
    expectKmsError(() => parseCsr(bytesToBase64(huge)), 'invalid_csr', 'Invalid CSR: too large')
    expectKmsError(() => parseCsr(csrPem(huge)), 'invalid_csr', 'Invalid CSR: too large')
  })

  test('error: text far beyond any CSR is refused before decoding', () => {
    expectKmsError(() => parseCsr('A'.repeat(1_000_000)), 'invalid_csr', 'Invalid CSR: too large')
  })

  test('behavior: a CSR of exactly the size limit is accepted', () => {
    // Ed25519 signatures have a fixed length, so the size is exact for a given padding.
    const signer = ed25519Signer()
    const spki = derSequence(derSequence(derOid(OID.ed25519)), concatBytes(Uint8Array.of(3, 33, 0), signer.publicKey))
    const build = (padding: number): Uint8Array =>
      buildCsrDer({ subject: subjectName('x'.repeat(padding)), spki, signatureAlgorithm: algorithm(OID.ed25519), sign: signer.sign })
    const overhead = build(1000).length - 1000
    const exact = build(MAX_CSR_BYTES - overhead)
    expect(exact.length).toBe(MAX_CSR_BYTES)
    expect(parseCsr(csrPem(exact)).keyType).toBe('Ed25519')
    expectKmsError(() => parseCsr(csrPem(build(MAX_CSR_BYTES - overhead + 1))), 'invalid_csr', 'Invalid CSR: too large')
  })

  test('error: version 1', () => {
    const signer = p256Signer()
    const csr = buildCsrDer({ version: 1, spki: ecSpki(signer.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: version must be 0')
  })

  test.each([
    ['the attributes [0] left out', { attributes: null }],
    ['an empty RDN SET', { subject: derSequence(Uint8Array.of(0x31, 0x00)) }],
    ['a non-minimal INTEGER inside an attribute', {
      attributes: derTlv(0xa0, derSequence(derOid('1.2.3'), derTlv(0x31, Uint8Array.of(0x02, 0x02, 0x00, 0x01)))),
    }],
    ['a BOOLEAN that is not 00/ff inside the subject', {
      subject: derSequence(derTlv(0x31, derSequence(derOid('2.5.4.3'), Uint8Array.of(0x01, 0x01, 0x01)))),
    }],
    ['a constructed OCTET STRING (BER only)', {
      attributes: derTlv(0xa0, derSequence(derOid('1.2.3'), derTlv(0x31, derTlv(0x24, derOctetString(Uint8Array.of(1)))))),
    }],
  ])('error: %s', (_, parts) => {
    const signer = p256Signer()
    const csr = buildCsrDer({ spki: ecSpki(signer.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign, ...parts })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: malformed DER')
  })
})

describe('unsupported_key: key and signature algorithm (check 3)', () => {
  test.each([
    ['RSA', ['-newkey', 'rsa:2048'], 'Unsupported key type: RSA'],
    ['RSA-PSS', ['-newkey', 'rsa-pss', '-pkeyopt', 'rsa_keygen_bits:1024'], 'Unsupported key type: RSA-PSS'],
    ['Ed448', ['-newkey', 'ed448'], 'Unsupported key type: Ed448'],
    ['secp256k1', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:secp256k1'], 'Unsupported EC curve'],
    ['P-521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], 'Unsupported EC curve'],
    ['P-256 with explicit parameters', [...P256, '-pkeyopt', 'ec_param_enc:explicit'], 'Unsupported EC curve'],
  ])('error: an OpenSSL %s CSR', (name, keyArgs, message) => {
    const pem = scratch.csr(name.replace(/ /g, '_'), keyArgs)
    expectKmsError(() => parseCsr(pem), 'unsupported_key', message)
  })

  test('error: an OpenSSL CSR with a compressed P-256 point', () => {
    scratch.ok(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'plain.key'])
    scratch.ok(['ec', '-in', 'plain.key', '-conv_form', 'compressed', '-out', 'compressed.key'])
    scratch.ok(['req', '-new', '-key', 'compressed.key', '-subj', '/CN=c', '-out', 'compressed.csr'])
    expectKmsError(() => parseCsr(scratch.read('compressed.csr')), 'unsupported_key', 'Unsupported EC point encoding')
  })

  test('error: P-256 signed with ecdsa-with-SHA1', () => {
    const pem = scratch.csr('sha1', P256, ['-sha1'])
    expectKmsError(() => parseCsr(pem), 'unsupported_key', 'Unsupported signature algorithm')
  })

  test('error: a point that is not on the curve', () => {
    const signer = p256Signer()
    const offCurve = signer.publicKey.slice()
    offCurve[64]! ^= 1
    const csr = buildCsrDer({ spki: ecSpki(offCurve), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'unsupported_key', 'Unsupported EC point: not on the curve')
  })

  test('error: a coordinate ≥ p', () => {
    const signer = p256Signer()
    const point = concatBytes(Uint8Array.of(0x04), new Uint8Array(64).fill(0xff))
    const csr = buildCsrDer({ spki: ecSpki(point), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'unsupported_key', 'Unsupported EC point: not on the curve')
  })

  test.each([
    ['NULL curve parameters (implicitCurve)', { spki: (point: Uint8Array) => ecSpki(point, derNull()) }, 'Unsupported EC curve'],
    ['ecdsa-with-SHA256 with NULL parameters', { signatureAlgorithm: algorithm(OID.ecdsaWithSha256, derNull()) }, 'Unsupported signature algorithm'],
    ['an EC key signed as Ed25519', { signatureAlgorithm: algorithm(OID.ed25519) }, 'Unsupported signature algorithm'],
    ['an OID with a huge arc', { spki: (point: Uint8Array) => derSequence(derSequence(derOid('2.25.340282366920938463463374607431768211455')), concatBytes(Uint8Array.of(3, 66, 0), point)) }, 'Unsupported key type'],
  ])('error: %s', (_, variant, message) => {
    const signer = p256Signer()
    const csr = buildCsrDer({
      spki: 'spki' in variant ? variant.spki(signer.publicKey) : ecSpki(signer.publicKey),
      signatureAlgorithm: 'signatureAlgorithm' in variant ? variant.signatureAlgorithm : algorithm(OID.ecdsaWithSha256),
      sign: signer.sign,
    })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'unsupported_key', message)
  })

  test.each([
    ['with NULL parameters', (key: Uint8Array) => derSequence(derSequence(derOid(OID.ed25519), derNull()), concatBytes(Uint8Array.of(3, 33, 0), key)), 'Unsupported Ed25519 key encoding'],
    ['of 31 bytes', (key: Uint8Array) => derSequence(derSequence(derOid(OID.ed25519)), concatBytes(Uint8Array.of(3, 32, 0), key.subarray(1))), 'Unsupported Ed25519 key encoding'],
  ])('error: an Ed25519 key %s', (_, spki, message) => {
    const signer = ed25519Signer()
    const csr = buildCsrDer({ spki: spki(signer.publicKey), signatureAlgorithm: algorithm(OID.ed25519), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'unsupported_key', message)
  })

  test('error: an Ed25519 key signed with ECDSA', () => {
    const signer = ed25519Signer()
    const spki = derSequence(derSequence(derOid(OID.ed25519)), concatBytes(Uint8Array.of(3, 33, 0), signer.publicKey))
    const csr = buildCsrDer({ spki, signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'unsupported_key', 'Unsupported signature algorithm')
  })

  test('behavior: check 3 runs before check 4: an RSA CSR with a broken signature is unsupported_key', () => {
    const rsa = der(scratch.csr('rsa-broken', ['-newkey', 'rsa:2048']))
    rsa[rsa.length - 1]! ^= 1
    expectKmsError(() => parseCsr(bytesToBase64(rsa)), 'unsupported_key', 'Unsupported key type: RSA')
  })

  test('behavior: check 2 runs before check 3: an RSA CSR with trailing bytes is invalid_csr', () => {
    const rsa = concatBytes(der(scratch.csr('rsa-trailing', ['-newkey', 'rsa:2048'])), Uint8Array.of(0))
    expectKmsError(() => parseCsr(bytesToBase64(rsa)), 'invalid_csr', 'Invalid CSR: malformed DER')
  })
})

describe('invalid_csr: the self-signature (check 4)', () => {
  test.each([
    ['P-256', P256],
    ['P-384', P384],
    ['Ed25519', ED25519],
  ] as const)('error: a %s CSR with one signature bit flipped', (name, keyArgs) => {
    const csr = der(scratch.csr(`flip-${name}`, keyArgs))
    csr[csr.length - 1]! ^= 0x01 // the last byte is signature (s, or Ed25519's S)
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: signature does not verify')
  })

  test('error: a subject byte changed after signing (the received bytes are what is verified)', () => {
    const pem = scratch.csr('tamper', P256, [], '/CN=aaaa')
    const csr = der(pem)
    const at = csr.findIndex((_, index) => csr[index] === 0x61 && csr[index + 1] === 0x61)
    csr[at] = 0x62
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: signature does not verify')
  })

  test('error: a CSR signed by another key', () => {
    const signer = p256Signer()
    const other = p256Signer()
    const csr = buildCsrDer({ spki: ecSpki(signer.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: other.sign })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: signature does not verify')
  })

  test.each([
    ['r = 0', derSequence(Uint8Array.of(2, 1, 0), Uint8Array.of(2, 1, 1))],
    ['s = n', derSequence(Uint8Array.of(2, 1, 1), derUnsignedInteger(numberToBytesBE(p256.Point.Fn.ORDER, 32)))],
    ['a negative r', derSequence(Uint8Array.of(2, 1, 0xff), Uint8Array.of(2, 1, 1))],
    ['a non-minimal r', derSequence(Uint8Array.of(2, 2, 0, 1), Uint8Array.of(2, 1, 1))],
    ['a third INTEGER', derSequence(Uint8Array.of(2, 1, 1), Uint8Array.of(2, 1, 1), Uint8Array.of(2, 1, 1))],
    ['not DER at all', Uint8Array.of(1, 2, 3)],
    ['raw r ‖ s instead of DER', new Uint8Array(64).fill(1)],
  ])('error: an ECDSA signature with %s', (_, signature) => {
    const signer = p256Signer()
    const csr = buildCsrDer({ spki: ecSpki(signer.publicKey), signatureAlgorithm: algorithm(OID.ecdsaWithSha256), sign: () => signature })
    expectKmsError(() => parseCsr(bytesToBase64(csr)), 'invalid_csr', 'Invalid CSR: signature does not verify')
  })

  test('error: an Ed25519 signature of 63 bytes, or a non-canonical key', () => {
    const signer = ed25519Signer()
    const spki = (key: Uint8Array): Uint8Array => derSequence(derSequence(derOid(OID.ed25519)), concatBytes(Uint8Array.of(3, 33, 0), key))
    const short = buildCsrDer({ spki: spki(signer.publicKey), signatureAlgorithm: algorithm(OID.ed25519), sign: (info) => signer.sign(info).subarray(1) })
    expectKmsError(() => parseCsr(bytesToBase64(short)), 'invalid_csr', 'Invalid CSR: signature does not verify')
    const nonCanonical = buildCsrDer({ spki: spki(new Uint8Array(32).fill(0xff)), signatureAlgorithm: algorithm(OID.ed25519), sign: signer.sign })
    expectKmsError(() => parseCsr(bytesToBase64(nonCanonical)), 'invalid_csr', 'Invalid CSR: signature does not verify')
  })
})
