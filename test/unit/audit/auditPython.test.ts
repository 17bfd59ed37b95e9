/**
 * The §14 audit log vectors, recomputed by an independent implementation: a Python script on
 * hashlib's SHA-256, a canonical JSON written from §0, its own keccak-256 and the
 * `cryptography` package's P-384 and RFC 6979 secp256k1 ECDSA (test/vectors/python/
 * audit_log.py, with _ethereum.py). It must print the vector file byte for byte; the file is
 * checked against the project's code by auditVectors.test.ts, so a change on either side
 * fails one of them. This suite never skips: without python3 or `cryptography` it fails and
 * says so.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, test } from 'vitest'

const ROOT = resolve(__dirname, '../../..')
const SCRIPT = 'test/vectors/python/audit_log.py'
const FILE = 'test/vectors/protocol-14-audit.json'

function python(command = 'python3', ...args: string[]): { status: number; stdout: string; stderr: string } {
  const run = spawnSync(command, [SCRIPT, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  if (run.error !== undefined) {
    throw new Error(`python3 could not be run (${run.error.message}): this suite needs python3 with the \`cryptography\` package`)
  }
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }
}

describe('audit log vectors, recomputed in Python (PROTOCOL §14)', () => {
  test('vector: the script passes its self-tests and prints the file byte for byte', () => {
    const run = python()
    // Exit 2 is a missing dependency (cryptography, or one too old for RFC 6979): a failure here, never a skip.
    if (run.status === 2) throw new Error(`${SCRIPT} could not run (exit 2):\n${run.stderr}`)
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toBe(readFileSync(join(ROOT, FILE), 'utf8'))
  })

  test('error: the script refuses arguments it does not take (exit 2, with its usage)', () => {
    const run = python('python3', 'unexpected.json')
    expect(run.status).toBe(2)
    expect(run.stderr).toContain('Usage:')
  })

  test('error: without python3 the suite fails and says what it needs (it never skips)', () => {
    expect(() => python('python3-not-installed-here')).toThrow(
      /^python3 could not be run \(.*ENOENT\): this suite needs python3 with the `cryptography` package$/,
    )
  })
})
