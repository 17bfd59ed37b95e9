/**
 * `node dist/nova-runtime.mjs` with chosen PCRs (`--pcrs`, or `pcrs` of the app in
 * devnet.json): its documents, on the API, the Aux API and `/v1/eth/sign`, carry exactly those
 * PCR0..2, so they pass a verifier that refuses debug mode, and their code measurement is
 * keccak256(PCR0 ‖ PCR1 ‖ PCR2) computed here with viem. Bad input stops the runtime with
 * exit 1 and a message. No KMS integration: only the runtime runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { p384 } from '@noble/curves/nist.js'
import { concat, keccak256, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codeMeasurement, verifyNitroAttestation, type NitroAttestation } from '../../core/attestation'
import { generateWalletPrivateKey, privateKeyToWallet } from '../../core/crypto'
import { bytesToBase64, bytesToHex, parseBase64 } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { cryptoRandom } from '../helpers/kmsNodes'
import { runRuntimeCli, spawnRuntime, type RuntimeProcess } from './_cluster'

const APP_ID = 4242
const FLAG_PCRS = ['01', '02', '03'].map((byte) => byte.repeat(48))
const FILE_PCRS = ['a1', 'b2', 'c3'].map((byte) => byte.repeat(48))

/** A devnet.json with one app and no KMS integration; `app` fields are added to the entry. */
function writeDevnet(app: Record<string, unknown> = {}): string {
  const walletKey = generateWalletPrivateKey(cryptoRandom)
  let teeScalar = cryptoRandom.bytes(48)
  while (!p384.utils.isValidSecretKey(teeScalar)) teeScalar = cryptoRandom.bytes(48)
  const path = join(mkdtempSync(join(tmpdir(), 'nova-runtime-pcrs-')), 'devnet.json')
  const entry = { appId: APP_ID, wallet: privateKeyToWallet(walletKey), walletKey: bytesToHex(walletKey), teeScalar: bytesToHex(teeScalar), ...app }
  writeFileSync(path, JSON.stringify({ apps: [entry] }))
  return path
}

async function attest(base: string): Promise<Uint8Array> {
  const response = await fetch(`${base}/v1/attestation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ nonce: bytesToBase64(cryptoRandom.bytes(32)) }) })
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`)
  return new Uint8Array(await response.arrayBuffer())
}

/** Verified against the dev root with debug mode refused, as the test build verifies a peer. */
function verifyStrict(document: Uint8Array): Promise<NitroAttestation> {
  return verifyNitroAttestation(document, { at: Date.now(), maxAgeMs: 60_000, trustedRoot: devRootCertificateDer() })
}

function pcrHex(document: NitroAttestation): string[] {
  return [...document.pcrs.values()].map((value) => bytesToHex(value))
}

/** The registry's measurement, computed with viem rather than core. */
function expectedMeasurement(pcrs: readonly string[]): string {
  return keccak256(concat(pcrs.map((pcr) => `0x${pcr}` as Hex))).slice(2)
}

let flagged: RuntimeProcess
let filed: RuntimeProcess

beforeAll(async () => {
  flagged = await spawnRuntime(writeDevnet(), APP_ID, ['--pcrs', FLAG_PCRS.join(',')])
  filed = await spawnRuntime(writeDevnet({ pcrs: { '0': FILE_PCRS[0], '1': FILE_PCRS[1], '2': FILE_PCRS[2] } }), APP_ID)
}, 60_000)

afterAll(async () => {
  await flagged?.stop()
  await filed?.stop()
})

describe('nova-runtime with chosen PCRs', () => {
  it('behavior: with --pcrs, documents on the API, the Aux API and /v1/eth/sign carry PCR0..2, PCR3..15 stay zero', async () => {
    const signed = (await (await fetch(`${flagged.apiUrl}/v1/eth/sign`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'm', include_attestation: true }) })).json()) as { attestation: string }
    for (const bytes of [await attest(flagged.apiUrl), await attest(flagged.auxUrl), parseBase64(signed.attestation)!]) {
      const document = await verifyStrict(bytes)
      expect(pcrHex(document)).toEqual([...FLAG_PCRS, ...Array.from({ length: 13 }, () => '00'.repeat(48))])
      expect(bytesToHex(codeMeasurement(document.pcrs))).toBe(expectedMeasurement(FLAG_PCRS))
    }
  })

  it('behavior: with "pcrs" in devnet.json, documents carry those', async () => {
    const document = await verifyStrict(await attest(filed.apiUrl))
    expect(pcrHex(document).slice(0, 3)).toEqual(FILE_PCRS)
    expect(bytesToHex(codeMeasurement(document.pcrs))).toBe(expectedMeasurement(FILE_PCRS))
  })

  it('behavior: --pcrs wins over "pcrs" in devnet.json', async () => {
    const both = await spawnRuntime(writeDevnet({ pcrs: { '0': FILE_PCRS[0], '1': FILE_PCRS[1], '2': FILE_PCRS[2] } }), APP_ID, ['--pcrs', FLAG_PCRS.join(',')])
    try {
      expect(pcrHex(await verifyStrict(await attest(both.apiUrl))).slice(0, 3)).toEqual(FLAG_PCRS)
    } finally {
      await both.stop()
    }
  })

  it('behavior: without either, PCR0..2 are zero and a verifier that refuses debug mode refuses the document', async () => {
    const plain = await spawnRuntime(writeDevnet(), APP_ID)
    try {
      await expect(verifyStrict(await attest(plain.apiUrl))).rejects.toMatchObject({ attestationCode: 'ATTESTATION_DEBUG_MODE' })
    } finally {
      await plain.stop()
    }
  })

  it('behavior: --help documents --pcrs', async () => {
    const { code, stdout } = await runRuntimeCli(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('[--pcrs <hex0>,<hex1>,<hex2>]')
    expect(stdout).toContain('PCR0, PCR1 and PCR2 of every attestation document, 48 bytes of')
  })

  it.each([
    ['two values', [FLAG_PCRS[0], FLAG_PCRS[1]].join(','), '--pcrs expects three comma-separated values (PCR0,PCR1,PCR2), got 2'],
    ['a short PCR1', [FLAG_PCRS[0], '02'.repeat(47), FLAG_PCRS[2]].join(','), '--pcrs: PCR1 must be 48 bytes of hex'],
    ['a non-hex PCR2', [FLAG_PCRS[0], FLAG_PCRS[1], 'zz'.repeat(48)].join(','), '--pcrs: PCR2 must be 48 bytes of hex'],
  ])('error: --pcrs with %s exits 1 with a message and the usage', async (_case, value, message) => {
    const { code, stdout, stderr } = await runRuntimeCli(['--devnet', writeDevnet(), '--app-id', String(APP_ID), '--pcrs', value])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain(`nova-runtime: ${message}\n`)
    expect(stderr).toContain('Usage: node dist/nova-runtime.mjs')
  })

  it('error: "pcrs" in devnet.json without PCR2 exits 1 naming the field', async () => {
    const path = writeDevnet({ pcrs: { '0': FILE_PCRS[0], '1': FILE_PCRS[1] } })
    const { code, stdout, stderr } = await runRuntimeCli(['--devnet', path, '--app-id', String(APP_ID)])
    expect(code).toBe(1)
    expect(stdout).toBe('')
    expect(stderr).toContain(`nova-runtime: ${path}: apps[0].pcrs must be an object with exactly the keys "0", "1" and "2"`)
  })
})
