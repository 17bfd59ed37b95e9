/**
 * The §5.7 "Binding v2" vectors, checked by an independent implementation: a Python script on
 * hashlib/hmac, its own keccak-256 and the `cryptography` package (test/vectors/python/
 * binding_v2.py). This suite never skips: without python3 or `cryptography` it fails and says so.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import bindingV2 from '../../vectors/protocol-5.7-binding-v2.json'
import { loadVectors } from './_vectors'

const ROOT = resolve(__dirname, '../../..')
const SCRIPT = 'test/vectors/python/binding_v2.py'
const FILE = 'test/vectors/protocol-5.7-binding-v2.json'
const CASES = loadVectors(bindingV2).cases.length
const scratch = mkdtempSync(join(tmpdir(), 'binding-v2-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

function python(...args: string[]): { status: number; stdout: string; stderr: string } {
  const run = spawnSync('python3', [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  if (run.error !== undefined) {
    throw new Error(`python3 could not be run (${run.error.message}): this suite needs python3 with the \`cryptography\` package`)
  }
  if (run.status === 2) throw new Error(`${SCRIPT} could not run its checks (exit 2):\n${run.stderr}`)
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }
}

/** A copy of the vector file with one case changed. */
function tampered(name: string, change: (entry: Record<string, unknown>) => void): string {
  const file = JSON.parse(readFileSync(join(ROOT, FILE), 'utf8')) as { cases: Record<string, unknown>[] }
  const entry = file.cases.find((candidate) => candidate['name'] === name)
  if (entry === undefined) throw new Error(`no case named ${name}`)
  change(entry)
  const path = join(scratch, `${name.replace(/\W+/g, '-')}.json`)
  writeFileSync(path, JSON.stringify(file))
  return path
}

describe('binding v2 vectors, recomputed in Python (PROTOCOL §5.7 "Binding v2")', () => {
  test('vector: the script re-signs with RFC 6979 and agrees with every value of the file', () => {
    const run = python(FILE)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain(`checked ${CASES} values in ${FILE}`)
    expect(run.stdout).toContain('4 signatures re-signed with RFC 6979 and verified')
  })

  test('vector: the script prints the file byte for byte', () => {
    const run = python()
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toBe(readFileSync(join(ROOT, FILE), 'utf8'))
  })

  test('vector: the verify-only fallback (no deterministic signing) passes on the file too', () => {
    const run = python('--verify-only', FILE)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toContain(`checked ${CASES} values`)
    expect(run.stdout).toContain('4 signatures verified, not re-signed (--verify-only)')
  })

  test('error: a changed digest, signature or recovery id makes the script fail and name it', () => {
    const digest = python(tampered('derive request digest', (entry) => (entry['expected'] = '00'.repeat(32))))
    expect(digest.status).toBe(1)
    expect(digest.stderr).toContain(`MISMATCH`)
    expect(digest.stderr).toContain(`case 'derive request digest', field 'expected'`)
    const flipV = (entry: Record<string, unknown>) => {
      const signature = entry['expected'] as string
      entry['expected'] = signature.slice(0, 130) + (signature.endsWith('00') ? '01' : '00')
    }
    const name = 'peer binding signature (X-KMS-Peer-Binding)'
    expect(python(tampered(name, flipV)).stderr).toContain(`case '${name}', field 'expected'`)
    const verifyOnly = python('--verify-only', tampered(name, flipV))
    expect(verifyOnly.status).toBe(1)
    expect(verifyOnly.stderr).toMatch(/MISMATCH: AssertionError: recovery id: expected [01], recovered with \[[01]\]/)
  })
})
