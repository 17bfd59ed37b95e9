/**
 * The operator CLI (`nova-kms verify-attestation`), run as a process through tsx: the real
 * fixtures at their timestamps, the three input forms, a tampered file, JSON output, the
 * dev-only `--root`, and usage errors.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, test } from 'vitest'
import { bytesToBase64, bytesToHex } from '../../../core/encoding'
import { devRootCertificateDer, issueDevAttestation } from '../../../core/tee/devAttestation'
import { loadNitroFixtures, NITRO_FIXTURES_DIR, PRODUCTION_FIXTURES } from '../../helpers/nitro/fixtures'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const TSX = join(ROOT, 'node_modules/.bin/tsx')
const fixtures = loadNitroFixtures()
const scratch = mkdtempSync(join(tmpdir(), 'nova-cli-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Run {
  code: number
  stdout: string
  stderr: string
}

function cli(args: readonly string[], stdin?: Uint8Array): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(TSX, ['bundle/cli.ts', ...args], { cwd: ROOT, timeout: 60_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
    child.stdin!.end(stdin === undefined ? undefined : Buffer.from(stdin))
  })
}

function file(name: string, content: Uint8Array | string): string {
  const path = join(scratch, name)
  writeFileSync(path, content)
  return path
}

// Each case starts tsx processes (about 1 s each on this machine): allow for a loaded machine.
describe('verify-attestation', { timeout: 120_000 }, () => {
  test('vector: every fixture verifies at its timestamp (ISO or epoch ms), module id and verdict printed', async () => {
    const runs = await Promise.all(
      fixtures.map(({ name, facts }, index) =>
        cli([
          'verify-attestation',
          NITRO_FIXTURES_DIR + name,
          '--at',
          index % 2 === 0 ? new Date(facts.timestampMs).toISOString() : String(facts.timestampMs),
          '--allow-debug',
        ]),
      ),
    )
    for (const [index, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain(`module_id    ${fixtures[index]!.facts.module_id}`)
      expect(run.stdout).toContain(`timestamp    ${new Date(fixtures[index]!.facts.timestampMs).toISOString()}`)
      expect(run.stdout).toContain('Verdict: VALID')
    }
  })

  test('behavior: without --allow-debug a debug document is rejected (exit 1), a production one passes', async () => {
    const debug = fixtures.find(({ name }) => !PRODUCTION_FIXTURES.has(name))!
    const production = fixtures.find(({ name }) => PRODUCTION_FIXTURES.has(name))!
    const [rejected, accepted] = await Promise.all([
      cli(['verify-attestation', NITRO_FIXTURES_DIR + debug.name, '--at', String(debug.facts.timestampMs)]),
      cli(['verify-attestation', NITRO_FIXTURES_DIR + production.name, '--at', String(production.facts.timestampMs)]),
    ])
    expect(rejected.code).toBe(1)
    expect(rejected.stdout).toContain('Verdict: REJECTED ATTESTATION_DEBUG_MODE')
    expect(accepted.code).toBe(0)
  })

  test('error: a tampered file exits non-zero, and the document is still shown', async () => {
    const { name, facts, document } = fixtures[0]!
    const tampered = document.slice()
    tampered[tampered.length - 5]! ^= 1 // inside the COSE signature
    const run = await cli(['verify-attestation', file(`tampered-${name}.cbor`, tampered), '--at', String(facts.timestampMs), '--allow-debug'])
    expect(run.code).toBe(1)
    expect(run.stdout).toContain(facts.module_id)
    expect(run.stdout).toContain('Verdict: REJECTED ATTESTATION_SIGNATURE_INVALID')
  })

  test('behavior: base64 with line breaks, hex with 0x and a newline, and stdin give the same verdict', async () => {
    const { facts, document } = fixtures.find(({ name }) => name.startsWith('sparsity-attestation_2'))!
    const at = String(facts.timestampMs)
    const base64 = file('doc.b64', `${bytesToBase64(document).replace(/.{76}/g, '$&\n')}\n`)
    const hex = file('doc.hex', `0x${bytesToHex(document)}\n`)
    const runs = await Promise.all([
      cli(['verify-attestation', base64, '--at', at]),
      cli(['verify-attestation', hex, '--at', at]),
      cli(['verify-attestation', '-', '--at', at], document),
    ])
    expect(runs.map((run) => run.code)).toEqual([0, 0, 0])
    expect(runs[0]!.stdout).toContain('(base64)')
    expect(runs[1]!.stdout).toContain('(hex)')
    expect(runs[2]!.stdout).toContain('(raw CBOR)')
  })

  test('behavior: --json prints one parseable object with the document and the verdict', async () => {
    const { name, facts } = fixtures.find(({ name }) => name.startsWith('evervault-valid'))!
    const run = await cli(['verify-attestation', NITRO_FIXTURES_DIR + name, '--at', String(facts.timestampMs), '--json'])
    expect(run.code).toBe(0)
    const output = JSON.parse(run.stdout) as {
      document: { moduleId: string; timestamp: number; pcrs: Record<string, string>; nonce: { size: number }; publicKey: null; cabundle: { subject: string }[] }
      verdict: { valid: boolean; at: number }
    }
    expect(output.verdict).toMatchObject({ valid: true, at: facts.timestampMs })
    expect(output.document.moduleId).toBe(facts.module_id)
    expect(output.document.pcrs['8']).toBe(facts.nonZeroPcrs['8'])
    expect(output.document.nonce.size).toBe(256)
    expect(output.document.publicKey).toBeNull()
    expect(output.document.cabundle[0]!.subject).toBe('C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves')
  })

  test('behavior: --nonce (hex) must match the document nonce', async () => {
    const { name, facts } = fixtures.find(({ name }) => name.startsWith('sparsity-attestation_1'))!
    const args = ['verify-attestation', NITRO_FIXTURES_DIR + name, '--at', String(facts.timestampMs), '--allow-debug', '--json']
    const [match, mismatch] = await Promise.all([cli([...args, '--nonce', '31323334']), cli([...args, '--nonce', '31323335'])])
    expect(JSON.parse(match.stdout).verdict.valid).toBe(true)
    expect(JSON.parse(mismatch.stdout).verdict).toMatchObject({ valid: false, code: 'ATTESTATION_NONCE_MISMATCH' })
    expect(mismatch.code).toBe(1)
  })

  test('behavior: --root trusts a dev root (PEM or DER); without it the dev document is ROOT_UNTRUSTED', async () => {
    const nowMs = Date.UTC(2026, 0, 2, 3, 4, 5)
    let counter = 0
    const document = await issueDevAttestation({
      request: { nonce: new Uint8Array(16) },
      wallet: '0x2222222222222222222222222222222222222222',
      teePublicKeyDer: new Uint8Array(120),
      nowMs,
      random: { bytes: (length) => new Uint8Array(length).fill(++counter) },
    })
    const path = file('dev.cbor', document)
    const pem = `-----BEGIN CERTIFICATE-----\n${bytesToBase64(devRootCertificateDer()).replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
    const runs = await Promise.all([
      cli(['verify-attestation', path, '--at', String(nowMs), '--allow-debug', '--root', file('root.pem', pem)]),
      cli(['verify-attestation', path, '--at', String(nowMs), '--allow-debug', '--root', file('root.der', devRootCertificateDer())]),
      cli(['verify-attestation', path, '--at', String(nowMs), '--allow-debug']),
    ])
    expect(runs.map((run) => run.code)).toEqual([0, 0, 1])
    expect(runs[0]!.stdout).toContain('custom --root (dev only)')
    expect(runs[2]!.stdout).toContain('ATTESTATION_ROOT_UNTRUSTED')
  })

  test('error: undecodable input and oversized input exit 1 with their code and no document', async () => {
    const runs = await Promise.all([
      cli(['verify-attestation', NITRO_FIXTURES_DIR + 'negative/base-nitro-validator-2026-01-03.as-published-truncated.b64', '--json']),
      cli(['verify-attestation', file('garbage.txt', 'not an attestation!')]),
      cli(['verify-attestation', file('big.b64', 'A'.repeat(70_000))]),
    ])
    expect(runs.map((run) => run.code)).toEqual([1, 1, 1])
    expect(JSON.parse(runs[0]!.stdout)).toMatchObject({ document: null, verdict: { valid: false, code: 'ATTESTATION_CBOR_MALFORMED' } })
    expect(runs[1]!.stdout).toContain('ATTESTATION_INPUT_ENCODING')
    expect(runs[2]!.stdout).toContain('ATTESTATION_INPUT_TOO_LARGE')
  })

  test('error: usage errors exit 2', async () => {
    const runs = await Promise.all([
      cli([]),
      cli(['verify-attestation']),
      cli(['verify-attestation', 'a', 'b']),
      cli(['verify-attestation', join(scratch, 'missing.cbor')]),
      cli(['verify-attestation', NITRO_FIXTURES_DIR + fixtures[0]!.name, '--at', 'yesterday']),
      cli(['verify-attestation', NITRO_FIXTURES_DIR + fixtures[0]!.name, '--bogus']),
      cli(['frobnicate']),
    ])
    expect(runs.map((run) => run.code)).toEqual([2, 2, 2, 2, 2, 2, 2])
    expect(runs[3]!.stderr).toContain('cannot read')
    expect(runs[4]!.stderr).toContain('--at must be')
  })
})
