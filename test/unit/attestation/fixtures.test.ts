/**
 * ATTESTATION.md §6.1: the nine real AWS documents, their facts (fixtures.json), debug mode,
 * the inclusive validity edges, high-S, the libsignal Sig_structure vector and the root pin.
 */
import { p384 } from '@noble/curves/nist.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { describe, expect, test } from 'vitest'
import {
  AWS_NITRO_ROOT_G1_SHA256,
  awsNitroRootG1Der,
  buildSigStructure,
  matchesAwsRootPin,
  verifyNitroAttestation,
} from '../../../core/attestation'
import { decodeCbor } from '../../../core/attestation/cbor'
import { readCoseSign1 } from '../../../core/attestation/cose'
import { bytesToHex, parseBase64 } from '../../../core/encoding'
import { loadNitroFixtures, PRODUCTION_FIXTURES, readFixtureFile } from '../../helpers/nitro/fixtures'
import { expectAttestationError } from './_expect'

const fixtures = loadNitroFixtures()
const P384_N = p384.Point.CURVE().n

function sizeOrNull(bytes: Uint8Array | null): string {
  return bytes === null ? 'null' : `${bytes.length} bytes`
}

function scalar(bytes: Uint8Array): bigint {
  return BigInt(`0x${bytesToHex(bytes)}`)
}

describe.each(fixtures)('$name', ({ name, facts, document }) => {
  const at = facts.timestampMs
  const from = Date.parse(facts.chainValidFrom)
  const to = Date.parse(facts.chainValidTo)

  test('vector: the decoded bytes are the published ones', () => {
    expect(document.length).toBe(facts.decodedBytes)
    expect(bytesToHex(sha256(document))).toBe(facts.sha256OfDecoded)
  })

  test('vector: verifies at its timestamp with debug mode allowed, fields as in fixtures.json', async () => {
    const result = await verifyNitroAttestation(document, { at, allowDebugMode: true })
    expect(result.moduleId).toBe(facts.module_id)
    expect(result.timestamp).toBe(facts.timestampMs)
    expect(result.digest).toBe('SHA384')
    expect([...result.pcrs.keys()]).toEqual(Array.from({ length: facts.pcrCount }, (_, index) => index))
    for (const [index, pcr] of result.pcrs) {
      expect(pcr.length).toBe(facts.pcrLength)
      expect(bytesToHex(pcr)).toBe(facts.nonZeroPcrs[String(index)] ?? '00'.repeat(48))
    }
    expect(sizeOrNull(result.publicKey)).toBe(facts.public_key)
    expect(sizeOrNull(result.userData)).toBe(facts.user_data)
    expect(sizeOrNull(result.nonce)).toBe(facts.nonce)
    expect(result.cabundle).toHaveLength(facts.cabundle.length)
    expect(matchesAwsRootPin(result.cabundle[0]!)).toBe(true)
  })

  test('behavior: byte fields are copies that never alias the input', async () => {
    const input = document.slice()
    const result = await verifyNitroAttestation(input, { at, allowDebugMode: true })
    for (const field of [result.certificate, ...result.cabundle, ...result.pcrs.values()]) {
      expect(field.buffer).not.toBe(input.buffer)
    }
    input.fill(0)
    expect(result.moduleId).toBe(facts.module_id)
    expect(matchesAwsRootPin(result.cabundle[0]!)).toBe(true)
  })

  const production = PRODUCTION_FIXTURES.has(name)
  test(`behavior: without allowDebugMode it ${production ? 'passes' : 'gives DEBUG_MODE'}`, async () => {
    const verifying = verifyNitroAttestation(document, { at })
    if (production) await expect(verifying).resolves.toMatchObject({ moduleId: facts.module_id })
    else await expectAttestationError(verifying, 'ATTESTATION_DEBUG_MODE')
    expect(facts.debugModeLikely).toBe(!production)
  })

  test('behavior: the validity window is inclusive at both edges', async () => {
    // At `from` the timestamp lies up to 15.081 s ahead, inside the default 30 s skew.
    await expect(verifyNitroAttestation(document, { at: from, allowDebugMode: true })).resolves.toBeDefined()
    await expect(verifyNitroAttestation(document, { at: to, allowDebugMode: true })).resolves.toBeDefined()
  })

  test('error: one second outside the window is CERT_NOT_YET_VALID / CERT_EXPIRED', async () => {
    await expectAttestationError(
      verifyNitroAttestation(document, { at: from - 1000, allowDebugMode: true }),
      'ATTESTATION_CERT_NOT_YET_VALID',
    )
    await expectAttestationError(verifyNitroAttestation(document, { at: to + 1000, allowDebugMode: true }), 'ATTESTATION_CERT_EXPIRED')
  })

  test(`vector: the COSE signature is ${facts.signatureHighS ? 'high' : 'low'}-S`, () => {
    const { signature } = readCoseSign1(decodeCbor(document, true))
    expect(scalar(signature.subarray(48)) > P384_N / 2n).toBe(facts.signatureHighS)
  })
})

describe('high-S', () => {
  test('vector: the guard holds: sparsity_1 and blocky debug carry s > n/2 and still verify', async () => {
    const highS = fixtures.filter(({ facts }) => facts.signatureHighS).map(({ name }) => name)
    expect(highS.sort()).toEqual(['blocky-nitro_attestation_debug.b64', 'sparsity-attestation_1.report.cbor'])
    for (const { document, facts } of fixtures.filter(({ facts }) => facts.signatureHighS)) {
      const { signature } = readCoseSign1(decodeCbor(document, true))
      expect(scalar(signature.subarray(48)) > P384_N / 2n).toBe(true)
      await expect(verifyNitroAttestation(document, { at: facts.timestampMs, allowDebugMode: true })).resolves.toBeDefined()
    }
  })
})

describe('Sig_structure', () => {
  test('vector: libsignal_01 gives exactly libsignal-cose_sign1_canonical.dat', () => {
    const document = readFixtureFile('libsignal-test_cose_sign1_01.dat')
    const expected = readFixtureFile('libsignal-cose_sign1_canonical.dat')
    const built = buildSigStructure(readCoseSign1(decodeCbor(document, true)))
    expect(built.length).toBe(4358)
    expect(bytesToHex(built.subarray(0, 21))).toBe('846a5369676e61747572653144a1013822405910f1')
    expect(bytesToHex(built)).toBe(bytesToHex(expected))
  })
})

describe('root pin', () => {
  test('vector: the shipped DER hashes to the pin', () => {
    const der = readFixtureFile('aws-nitro-enclaves-root-g1.der')
    expect(der.length).toBe(533)
    expect(bytesToHex(sha256(der))).toBe(AWS_NITRO_ROOT_G1_SHA256)
    expect(AWS_NITRO_ROOT_G1_SHA256).toBe('641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b')
    expect(matchesAwsRootPin(der)).toBe(true)
  })

  test('vector: the PEM decodes to the same bytes', () => {
    const pem = new TextDecoder().decode(readFixtureFile('aws-nitro-enclaves-root-g1.pem'))
    const body = pem.replace('-----BEGIN CERTIFICATE-----', '').replace('-----END CERTIFICATE-----', '').replace(/\s/g, '')
    expect(bytesToHex(parseBase64(body)!)).toBe(bytesToHex(readFixtureFile('aws-nitro-enclaves-root-g1.der')))
  })

  test('vector: the embedded copy equals the shipped DER and is checked against the pin', () => {
    expect(bytesToHex(awsNitroRootG1Der())).toBe(bytesToHex(readFixtureFile('aws-nitro-enclaves-root-g1.der')))
    const copy = awsNitroRootG1Der()
    copy[10]! ^= 1
    expect(matchesAwsRootPin(copy)).toBe(false)
    expect(bytesToHex(awsNitroRootG1Der())).toBe(bytesToHex(readFixtureFile('aws-nitro-enclaves-root-g1.der')))
  })
})
