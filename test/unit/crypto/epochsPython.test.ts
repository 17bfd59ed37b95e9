/**
 * The §5.7 "Key epochs" vectors, recomputed by an independent implementation: a Python
 * script on the `cryptography` package's HKDF, HMAC, AES-GCM and RFC 6979 P-256 ECDSA
 * (test/vectors/python/epochs_v2.py). It must print the vector file byte for byte; the file
 * is checked against the project's code by protocol-5.7-epochs.test.ts and
 * protocol-8.3-ca-epochs.test.ts, so a change on either side fails one of them. This suite
 * never skips: without python3 or `cryptography` it fails and says so.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { describe, expect, test } from 'vitest'

const ROOT = resolve(__dirname, '../../..')
const SCRIPT = 'test/vectors/python/epochs_v2.py'
const FILE = 'test/vectors/protocol-5.7-epochs.json'

function python(command = 'python3'): { status: number; stdout: string; stderr: string } {
  const run = spawnSync(command, [SCRIPT], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  if (run.error !== undefined) {
    throw new Error(`python3 could not be run (${run.error.message}): this suite needs python3 with the \`cryptography\` package`)
  }
  if (run.status === 2) throw new Error(`${SCRIPT} could not run (exit 2):\n${run.stderr}`)
  return { status: run.status ?? -1, stdout: run.stdout, stderr: run.stderr }
}

describe('key epoch vectors, recomputed in Python (PROTOCOL §5.7 "Key epochs")', () => {
  test('vector: the script passes its v1 self-tests and prints the file byte for byte', () => {
    const run = python()
    expect(run.status, run.stderr).toBe(0)
    expect(run.stdout).toBe(readFileSync(join(ROOT, FILE), 'utf8'))
  })

  test('error: without python3 the suite fails and says what it needs (it never skips)', () => {
    expect(() => python('python3-not-installed-here')).toThrow(
      /^python3 could not be run \(.*ENOENT\): this suite needs python3 with the `cryptography` package$/,
    )
  })
})
