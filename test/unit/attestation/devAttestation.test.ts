/**
 * PROTOCOL §10.3: the dev root (deterministic key and certificate) and the dev documents,
 * which the ATTESTATION.md verifier must accept with `trustedRoot = dev root`. openssl is the
 * independent checker of the certificates.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { p384 } from '@noble/curves/nist.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { keccak256 } from 'viem'
import { afterAll, describe, expect, test } from 'vitest'
import {
  codeMeasurement,
  decodeNitroAttestationUnverified,
  parseCertificate,
  verifyNitroAttestation,
} from '../../../core/attestation'
import { bytesToBase64, bytesToHex, concatBytes, type Wallet } from '../../../core/encoding'
import { KmsError } from '../../../core/errors'
import type { Random } from '../../../core/runtime'
import { devRootCertificateDer, issueDevAttestation, type IssueDevAttestationParams } from '../../../core/tee/devAttestation'
import { payloadModel, splitNitroDocument } from '../../helpers/nitro/document'
import { expectAttestationError } from './_expect'

const NOW = Date.UTC(2026, 4, 20, 8, 30, 15, 123)
const WALLET: Wallet = '0x1111111111111111111111111111111111111111'
const TEE_KEY = Uint8Array.of(0x30, 0x76, ...new Uint8Array(118).fill(5))
const NONCE = Uint8Array.from({ length: 16 }, (_, index) => 100 + index)

/** A reproducible `Random`: SHA-256 of a counter. */
function counterRandom(): Random {
  let counter = 0
  return {
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length)
      for (let offset = 0; offset < length; offset += 32) out.set(sha256(Uint8Array.of(counter++)).subarray(0, length - offset), offset)
      return out
    },
  }
}

function issue(overrides: Partial<IssueDevAttestationParams> = {}): Promise<Uint8Array> {
  return issueDevAttestation({
    request: { nonce: NONCE, userData: { app: 'demo', eth_addr: 'spoofed' } },
    wallet: WALLET,
    teePublicKeyDer: TEE_KEY,
    nowMs: NOW,
    random: counterRandom(),
    ...overrides,
  })
}

const scratch = mkdtempSync(join(tmpdir(), 'nova-dev-attestation-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function pem(der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${bytesToBase64(der).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
}

describe('dev root', () => {
  test('vector: the scalar is the HKDF-SHA256 value of §10.3', () => {
    const te = new TextEncoder()
    const seed = hkdf(sha256, te.encode('nova-kms dev attestation root'), new Uint8Array(0), te.encode('p384'), 64)
    const d = (BigInt(`0x${bytesToHex(seed)}`) % (p384.Point.CURVE().n - 1n)) + 1n
    expect(d.toString(16)).toBe(
      'f0fceac73e84f5e0f9a6be8b1525a267923a00ab7ea33362aa748b1a7ed4eaf9eaab4faa3b81f89c49d44241a6b2bf7b',
    )
    const point = p384.getPublicKey(p384.Point.Fn.toBytes(d), false)
    expect(bytesToHex(parseCertificate(devRootCertificateDer()).publicKey)).toBe(bytesToHex(point))
  })

  test('vector: the certificate is 510 bytes with SHA-256 4726…8439', () => {
    const der = devRootCertificateDer()
    expect(der.length).toBe(510)
    expect(bytesToHex(sha256(der))).toBe('4726953639e572395b14c2602282e197234af735e41393a0d8ad03f7441e8439')
  })

  test('behavior: every call returns an equal, independent copy', () => {
    const first = devRootCertificateDer()
    first.fill(0)
    expect(bytesToHex(sha256(devRootCertificateDer()))).toBe('4726953639e572395b14c2602282e197234af735e41393a0d8ad03f7441e8439')
  })

  test('vector: openssl parses it as §10.3 describes and verifies its self-signature', () => {
    const file = join(scratch, 'root.der')
    writeFileSync(file, devRootCertificateDer())
    const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', file, '-noout', '-text'], { encoding: 'utf8', timeout: 10_000 })
    expect(text).toContain('Issuer: O = Nova KMS Dev, CN = Nova KMS Dev Attestation Root')
    expect(text).toContain('Subject: O = Nova KMS Dev, CN = Nova KMS Dev Attestation Root')
    expect(text).toContain('Not Before: Jan  1 00:00:00 2025 GMT')
    expect(text).toContain('Not After : Jan  1 00:00:00 2045 GMT')
    expect(text).toMatch(/ASN1 OID: secp384r1/)
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE\n/)
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/)
    expect(text).toContain('Subject Key Identifier')
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA384/)
    writeFileSync(join(scratch, 'root.pem'), pem(devRootCertificateDer()))
    const verified = execFileSync('openssl', ['verify', '-CAfile', join(scratch, 'root.pem'), '-attime', String(NOW / 1000 | 0), join(scratch, 'root.pem')], {
      encoding: 'utf8',
      timeout: 10_000,
    })
    expect(verified).toContain(': OK')
  })
})

describe('dev documents', () => {
  test('behavior: a document verifies with trustedRoot = dev root at nowMs', async () => {
    const result = await verifyNitroAttestation(await issue(), {
      at: NOW,
      trustedRoot: devRootCertificateDer(),
      allowDebugMode: true,
      expectedNonce: NONCE,
      maxAgeMs: 300_000,
      maxFutureSkewMs: 15_000,
    })
    expect(result.moduleId).toBe('nova-dev-enclave')
    expect(result.timestamp).toBe(NOW)
    expect(bytesToHex(result.nonce!)).toBe(bytesToHex(NONCE))
    expect(bytesToHex(result.publicKey!)).toBe(bytesToHex(TEE_KEY))
    expect(JSON.parse(new TextDecoder().decode(result.userData!))).toEqual({ app: 'demo', eth_addr: WALLET })
    expect(result.cabundle.map(bytesToHex)).toEqual([bytesToHex(devRootCertificateDer())])
  })

  test('behavior: public_key is the request key when one is given', async () => {
    const requested = Uint8Array.of(1, 2, 3)
    const result = decodeNitroAttestationUnverified(await issue({ request: { nonce: NONCE, publicKeyDer: requested } }))
    expect(bytesToHex(result.publicKey!)).toBe('010203')
    expect(JSON.parse(new TextDecoder().decode(result.userData!))).toEqual({ eth_addr: WALLET })
  })

  test('vector: the AWS shape: untagged, {1:-35}, empty unprotected, nine keys in AWS order, timestamp as 1b', async () => {
    const document = await issue()
    expect(bytesToHex(document.subarray(0, 7))).toBe('8444a1013822a0')
    const { payload, signature } = splitNitroDocument(document)
    expect(signature).toHaveLength(96)
    const model = payloadModel(payload as Uint8Array)
    expect(model.entries.map(([key]) => key)).toEqual([
      'module_id',
      'digest',
      'timestamp',
      'pcrs',
      'certificate',
      'cabundle',
      'public_key',
      'user_data',
      'nonce',
    ])
    expect(bytesToHex(payload as Uint8Array)).toContain(`6974696d657374616d701b${NOW.toString(16).padStart(16, '0')}`)
    const result = decodeNitroAttestationUnverified(document)
    expect([...result.pcrs.keys()]).toEqual(Array.from({ length: 16 }, (_, index) => index))
    for (const pcr of result.pcrs.values()) expect(bytesToHex(pcr)).toBe('00'.repeat(48))
  })

  test('vector: the leaf is CN=nova-dev-enclave, now−60 s … now+3 h, AWS leaf extensions (openssl)', async () => {
    const { certificate } = decodeNitroAttestationUnverified(await issue())
    const leaf = parseCertificate(certificate)
    const nowS = Math.floor(NOW / 1000)
    expect([leaf.notBefore, leaf.notAfter]).toEqual([nowS - 60, nowS + 3 * 3600])
    expect(leaf.basicConstraints).toEqual({ critical: true, ca: false, pathLen: undefined })
    expect(leaf.keyUsage).toEqual({ critical: false, digitalSignature: true, keyCertSign: false })
    writeFileSync(join(scratch, 'leaf.pem'), pem(certificate))
    writeFileSync(join(scratch, 'root.pem'), pem(devRootCertificateDer()))
    const text = execFileSync('openssl', ['x509', '-in', join(scratch, 'leaf.pem'), '-noout', '-subject', '-issuer'], { encoding: 'utf8', timeout: 10_000 })
    expect(text).toContain('subject=CN = nova-dev-enclave')
    expect(text).toContain('issuer=O = Nova KMS Dev, CN = Nova KMS Dev Attestation Root')
    const verified = execFileSync('openssl', ['verify', '-CAfile', join(scratch, 'root.pem'), '-attime', String(nowS), join(scratch, 'leaf.pem')], {
      encoding: 'utf8',
      timeout: 10_000,
    })
    expect(verified).toContain(': OK')
  })

  test('behavior: each document has a fresh leaf key', async () => {
    const first = decodeNitroAttestationUnverified(await issue({ random: counterRandom() }))
    const random = counterRandom()
    random.bytes(500)
    const second = decodeNitroAttestationUnverified(await issue({ random }))
    expect(bytesToHex(parseCertificate(first.certificate).publicKey)).not.toBe(bytesToHex(parseCertificate(second.certificate).publicKey))
  })

  test('vector: zero PCRs give the §10.3 codeMeasurement and are debug mode', async () => {
    const document = await issue()
    const result = decodeNitroAttestationUnverified(document)
    expect(bytesToHex(codeMeasurement(result.pcrs))).toBe('cd2e66bf0b91eeedc6c648ae9335a78d7c9a4ab0ef33612a824d91cdc68a4f21')
    await expectAttestationError(verifyNitroAttestation(document, { at: NOW, trustedRoot: devRootCertificateDer() }), 'ATTESTATION_DEBUG_MODE')
  })

  test('behavior: chosen PCRs give keccak256(PCR0‖PCR1‖PCR2) and pass without debug mode', async () => {
    const pcrs = new Map([0, 1, 2].map((index) => [index, new Uint8Array(48).fill(index + 0x10)] as const))
    const document = await issue({ pcrs })
    const result = await verifyNitroAttestation(document, { at: NOW, trustedRoot: devRootCertificateDer(), expectedPcrs: pcrs })
    const expected = keccak256(concatBytes(pcrs.get(0)!, pcrs.get(1)!, pcrs.get(2)!))
    expect(`0x${bytesToHex(codeMeasurement(result.pcrs))}`).toBe(expected)
  })

  test('error: the dev root is never trusted by default (ROOT_UNTRUSTED)', async () => {
    await expectAttestationError(verifyNitroAttestation(await issue(), { at: NOW, allowDebugMode: true }), 'ATTESTATION_ROOT_UNTRUSTED')
  })

  test('error: outside the leaf window (now − 61 s, now + 3 h + 1 s)', async () => {
    const document = await issue()
    const options = { trustedRoot: devRootCertificateDer(), allowDebugMode: true, maxFutureSkewMs: 120_000 }
    await expectAttestationError(verifyNitroAttestation(document, { ...options, at: NOW - 61_000 }), 'ATTESTATION_CERT_NOT_YET_VALID')
    await expectAttestationError(
      verifyNitroAttestation(document, { ...options, at: (Math.floor(NOW / 1000) + 3 * 3600 + 1) * 1000 }),
      'ATTESTATION_CERT_EXPIRED',
    )
  })

  test('error: a field over 1024 B fails like Odyn (503 service_unavailable)', async () => {
    const error: unknown = await issue({ request: { nonce: new Uint8Array(1025) } }).catch((reason: unknown) => reason)
    expect(error).toBeInstanceOf(KmsError)
    expect((error as KmsError).toBody()).toEqual({ code: 'service_unavailable', message: 'Enclave helper unavailable' })
  })
})
