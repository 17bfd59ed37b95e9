/**
 * `@nova-kms/client` as an app gets it (issue 17), for the test/package suites:
 * `packages/client/build.ts` builds it, `npm pack` packs it, and an empty ES module project
 * installs the tarball with `npm install --offline`. Each suite installs its own copy in a
 * temporary folder and removes it.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { buildClientPackage, type BuildReport } from '../../packages/client/build'

export const run = promisify(execFile)
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const PACKAGE_DIR = join(ROOT, 'packages/client')

/**
 * The environment for the npm commands, without the `npm_config_*` (and other `npm_*`)
 * variables that `npx vitest` passes down: the repository's `allow-scripts` among them, which
 * npm refuses in another project's install.
 */
export const npmEnvironment = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name)))

export interface PackResult {
  filename: string
  files: { path: string }[]
}

export interface InstalledClient {
  report: BuildReport
  tarball: PackResult
  /** The temporary folder holding the tarball and the consumer project. */
  workDir: string
  /** The empty project the tarball is installed into. */
  consumerDir: string
  /** `node_modules/@nova-kms/client` in the consumer. */
  installedDir: string
  /** Deletes `workDir`. */
  remove(): void
}

/** Builds, packs and installs the package offline into a fresh consumer project. */
export async function installPackedClient(): Promise<InstalledClient> {
  const report = await buildClientPackage()
  const workDir = mkdtempSync(join(tmpdir(), 'nova-kms-client-'))
  try {
    const { stdout: packed } = await run('npm', ['pack', '--json', '--pack-destination', workDir], { cwd: PACKAGE_DIR, env: npmEnvironment })
    const tarball = (JSON.parse(packed) as PackResult[])[0]!
    const consumerDir = join(workDir, 'consumer')
    mkdirSync(consumerDir)
    await run('npm', ['init', '-y'], { cwd: consumerDir, env: npmEnvironment })
    const manifest = JSON.parse(readFileSync(join(consumerDir, 'package.json'), 'utf8')) as Record<string, unknown>
    writeFileSync(join(consumerDir, 'package.json'), JSON.stringify({ ...manifest, type: 'module' }, null, 2))
    await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(workDir, tarball.filename)], { cwd: consumerDir, env: npmEnvironment })
    const installedDir = join(consumerDir, 'node_modules/@nova-kms/client')
    return { report, tarball, workDir, consumerDir, installedDir, remove: () => rmSync(workDir, { recursive: true, force: true }) }
  } catch (error) {
    rmSync(workDir, { recursive: true, force: true })
    throw error
  }
}

/** The installed package's `.js` files, relative to its folder (`dist/index.js`, `dist/chunks/…`). */
export function installedScripts(installedDir: string): string[] {
  return (readdirSync(join(installedDir, 'dist'), { recursive: true }) as string[]).filter((file) => file.endsWith('.js')).map((file) => `dist/${file}`)
}

/**
 * Miniflare modules for a worker at `<installedDir>/worker.mjs` that imports the installed
 * dist by relative path (`./dist/index.js`): Miniflare loads modules by path under its
 * `modulesRoot`, not through node_modules resolution.
 */
export function installedWorkerModules(installedDir: string, worker: string): { type: 'ESModule'; path: string; contents: string }[] {
  return [
    { type: 'ESModule', path: join(installedDir, 'worker.mjs'), contents: worker },
    ...installedScripts(installedDir).map((script) => ({ type: 'ESModule' as const, path: join(installedDir, script), contents: readFileSync(join(installedDir, script), 'utf8') })),
  ]
}
