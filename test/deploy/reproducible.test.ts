/**
 * A reproducible bundle (issue 13): the same source gives the same dist/kms.mjs, byte for byte.
 * The bundle is built twice, into two folders inside the repository, with exactly the options
 * esbuild.config.ts builds it with (its export `kmsBundleOptions`), and the bytes compared.
 * The SHA-256 is printed: it is what the Dockerfile's build stage prints for the same source.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import { build } from 'esbuild'
import { afterAll, describe, expect, it } from 'vitest'
import { kmsBundleOptions } from '../../esbuild.config'
import { REPOSITORY_ROOT } from '../../deploy/render-manifest'

const BUILDS = resolve(REPOSITORY_ROOT, '.test-builds')
const folders = ['repro-a', 'repro-b'].map((name) => resolve(BUILDS, name))

async function buildInto(folder: string): Promise<Buffer> {
  rmSync(folder, { recursive: true, force: true })
  mkdirSync(folder, { recursive: true })
  const outfile = resolve(folder, 'kms.mjs')
  await build({ ...kmsBundleOptions, absWorkingDir: REPOSITORY_ROOT, outfile, logLevel: 'silent' })
  return readFileSync(outfile)
}

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true })
})

describe('dist/kms.mjs is reproducible', () => {
  it('behavior: two builds of the same source are the same bytes', async () => {
    const first = await buildInto(folders[0]!)
    const second = await buildInto(folders[1]!)
    const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')
    console.log(`dist/kms.mjs: ${first.length} bytes, sha256 ${sha256(first)}`)
    expect(first.length).toBeGreaterThan(100_000)
    expect(sha256(second)).toBe(sha256(first))
    expect(second.equals(first)).toBe(true)
  })

  it('behavior: the bundle names no path of the machine that built it, so another checkout (the image\'s /src) gives the same bytes', async () => {
    const text = (await buildInto(folders[0]!)).toString('utf8')
    expect(text.includes(REPOSITORY_ROOT)).toBe(false)
    expect(text).not.toMatch(/\/(home|root|tmp|Users)\/[^\s"'`]*\/(core|functions|bundle|node_modules)\//)
    expect(text.includes(folders[0]!)).toBe(false)
  })
})
