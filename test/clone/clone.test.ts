/**
 * A clone is the whole product (DESIGN §5): the committed HEAD of this repository, cloned
 * into an empty temporary directory with nothing beside it, passes the fixture-based suites
 * on its own, and no tracked file refers to a directory outside the repository.
 *
 * The clone gets the original checkout's `node_modules` through a symlink, so nothing is
 * installed over the network. Because it clones HEAD, only committed files count: a fixture
 * or a doc that exists only in the working tree makes this test fail, as it would for a user.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** The path every file used to read fixtures and specs from; written in two parts so that this file does not contain it. */
const OUTSIDE_PATH = ['..', 'shared'].join('/')
/** The attestation suites held 691 tests when this was written; far fewer means they stopped running. */
const MIN_ATTESTATION_TESTS = 500
/** Suites that read `test/fixtures/nitro` and must have run, and passed, in the clone. */
const FIXTURE_SUITES = ['fixtures.test.ts', 'negative.test.ts', 'trustedRoot.test.ts', 'cli.test.ts']

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs a program without a shell; never rejects. Vitest's and git's own variables are not passed on. */
function run(file: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('VITEST') && !name.startsWith('GIT_') && name !== 'NODE_ENV' && name !== 'TEST') env[name] = value
  }
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

function tail(text: string, lines = 40): string {
  return text.split('\n').slice(-lines).join('\n')
}

interface VitestReport {
  success: boolean
  numTotalTests: number
  numPassedTests: number
  numFailedTests: number
  testResults: { name: string; status: string; assertionResults: { status: string }[] }[]
}

describe('a fresh clone of HEAD', () => {
  let scratch: string
  let clone: string

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'nova-clone-'))
    clone = join(scratch, 'nova-kms')
    const cloned = await run('git', ['clone', '--quiet', ROOT, clone], scratch, 120_000)
    expect(cloned.code, `git clone failed:\n${cloned.stderr}`).toBe(0)
    symlinkSync(join(ROOT, 'node_modules'), join(clone, 'node_modules'), 'dir')
  })

  afterAll(() => {
    if (scratch === undefined) return
    // Remove the link itself first, so that nothing can reach the original node_modules.
    if (clone !== undefined && existsSync(join(clone, 'node_modules'))) unlinkSync(join(clone, 'node_modules'))
    rmSync(scratch, { recursive: true, force: true })
  })

  test('stands alone: nothing beside it, and it carries its fixtures and spec', () => {
    expect(readdirSync(scratch)).toEqual(['nova-kms'])
    expect(existsSync(join(scratch, 'shared'))).toBe(false)
    for (const path of ['test/fixtures/nitro/fixtures.json', 'test/fixtures/nitro/README.md', 'docs/PROTOCOL.md', 'docs/ATTESTATION.md']) {
      expect(existsSync(join(clone, path)), path).toBe(true)
    }
    // The fixture helper reads the repository's own copy.
    expect(readFileSync(join(clone, 'test/helpers/nitro/fixtures.ts'), 'utf8')).toContain("'../../fixtures/nitro/'")
  })

  test(`no tracked file contains "${OUTSIDE_PATH}"`, async () => {
    // git grep exits 1 when nothing matches, 0 when something does; binary files are searched too.
    const grep = await run('git', ['grep', '--fixed-strings', '--files-with-matches', OUTSIDE_PATH, 'HEAD', '--'], clone, 60_000)
    expect(grep.stderr).toBe('')
    expect(grep.stdout.trim().split('\n').filter(Boolean).map((line) => line.replace(/^HEAD:/, ''))).toEqual([])
    expect(grep.code).toBe(1)
  })

  test('passes the fixture-based attestation suites', async () => {
    const reportPath = join(scratch, 'attestation-report.json')
    const vitest = join(clone, 'node_modules/.bin/vitest')
    const args = ['run', '--project', 'unit', 'test/unit/attestation', '--reporter=json', `--outputFile=${reportPath}`]
    const result = await run(vitest, args, clone, 540_000)
    const output = `exit ${result.code}\n${tail(result.stdout)}\n${tail(result.stderr)}`
    expect(existsSync(reportPath), `vitest wrote no JSON report:\n${output}`).toBe(true)
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as VitestReport

    expect(report.numFailedTests, output).toBe(0)
    expect(report.success, output).toBe(true)
    expect(result.code, output).toBe(0)
    expect(report.numPassedTests).toBe(report.numTotalTests)
    expect(report.numPassedTests).toBeGreaterThanOrEqual(MIN_ATTESTATION_TESTS)
    const cloneRoot = realpathSync(clone)
    for (const suite of FIXTURE_SUITES) {
      const found = report.testResults.filter((file) => realpathSync(file.name).startsWith(cloneRoot) && file.name.endsWith(`/test/unit/attestation/${suite}`))
      expect(found, `${suite} did not run in the clone`).toHaveLength(1)
      expect(found[0]!.status, suite).toBe('passed')
      expect(found[0]!.assertionResults.length, suite).toBeGreaterThan(0)
    }
  })
})
