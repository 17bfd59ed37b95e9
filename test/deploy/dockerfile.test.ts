/**
 * The production image (issue 13): read from the Dockerfile itself, since there is no Docker
 * engine here to build it. Two stages on one digest-pinned base given as `ARG BASE_IMAGE`; the
 * build stage builds only dist/kms.mjs, never the test build dist/kms-test.mjs; the final
 * stage copies in that one file and nothing else, runs as the base image's unprivileged user,
 * in enclave mode; and the Node major of the pin is the one README's deployment section states.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { BUILD_ARG_KEYS, REPOSITORY_ROOT } from '../../deploy/render-manifest'
import { kmsBundleOptions } from '../../esbuild.config'
import { assignments, globalArgDefaults, parseDockerfile } from '../helpers/dockerfile'

const read = (path: string): string => readFileSync(resolve(REPOSITORY_ROOT, path), 'utf8')

const dockerfile = read('Dockerfile')
const instructions = parseDockerfile(dockerfile)
const fromIndexes = instructions.flatMap((instruction, index) => (instruction.keyword === 'FROM' ? [index] : []))
const globalArgs = instructions.slice(0, fromIndexes[0])
const buildStage = instructions.slice(fromIndexes[0]! + 1, fromIndexes[1])
const finalStage = instructions.slice(fromIndexes[1]! + 1)
const PINNED = /^node:(\d+)-bookworm-slim@sha256:[0-9a-f]{64}$/
const baseImage = globalArgDefaults(dockerfile)['BASE_IMAGE'] ?? ''

/** README's "Deploying to the Nova platform" section, up to the next level-2 heading. */
function deploymentSection(): string {
  const readme = read('README.md')
  const start = readme.indexOf('## Deploying to the Nova platform')
  expect(start, 'README has a section "Deploying to the Nova platform"').toBeGreaterThan(-1)
  const end = readme.indexOf('\n## ', start + 3)
  return readme.slice(start, end === -1 ? undefined : end)
}

describe('Dockerfile', () => {
  it('behavior: two stages, both FROM the ARG BASE_IMAGE declared before them', () => {
    expect(fromIndexes).toHaveLength(2)
    expect(globalArgs.map(({ keyword }) => keyword)).toEqual(['ARG', 'ARG', 'ARG'])
    expect(Object.keys(globalArgDefaults(dockerfile))).toEqual(['BASE_IMAGE', 'NODE_VERSION', 'NPM_VERSION'])
    expect(instructions[fromIndexes[0]!]!.args).toMatch(/^\$\{?BASE_IMAGE\}? AS build$/i)
    expect(instructions[fromIndexes[1]!]!.args).toMatch(/^\$\{?BASE_IMAGE\}?$/)
  })

  it('behavior: the base is a Node bookworm-slim image pinned by its sha256 digest', () => {
    expect(baseImage).toMatch(PINNED)
    // The comment next to the pin gives the command that refreshes it.
    const major = PINNED.exec(baseImage)![1]
    expect(dockerfile).toContain(`docker buildx imagetools inspect node:${major}-bookworm-slim --format '{{json .Manifest}}'`)
    expect(dockerfile).toContain(`crane digest node:${major}-bookworm-slim`)
  })

  it("behavior: the build stage first checks that the base ships the Node and npm versions the Dockerfile names", () => {
    const { NODE_VERSION, NPM_VERSION } = globalArgDefaults(dockerfile)
    expect(NODE_VERSION).toMatch(/^\d+\.\d+\.\d+$/)
    expect(NPM_VERSION).toMatch(/^\d+\.\d+\.\d+$/)
    // The pin's Node major is the one NODE_VERSION names.
    expect(NODE_VERSION!.split('.')[0]).toBe(PINNED.exec(baseImage)![1])
    expect(buildStage.slice(0, 3)).toEqual([
      { keyword: 'ARG', args: 'NODE_VERSION' },
      { keyword: 'ARG', args: 'NPM_VERSION' },
      expect.objectContaining({ keyword: 'RUN', args: expect.stringMatching(/^test "\$\(node --version\)" = "v\$\{NODE_VERSION\}" && test "\$\(npm --version\)" = "\$\{NPM_VERSION\}" \|\| \{ .*exit 1; \}$/) }),
    ])
  })

  it('behavior: the build stage builds dist/kms.mjs alone, and checks the operator settings with the node\'s own reader', () => {
    const runs = buildStage.filter(({ keyword }) => keyword === 'RUN').map(({ args }) => args)
    expect(runs).toContain('npx tsx esbuild.config.ts --only kms && sha256sum dist/kms.mjs')
    expect(runs.some((args) => args.includes('readConfig(process.env)') && args.startsWith('IN_ENCLAVE=true '))).toBe(true)
    for (const key of BUILD_ARG_KEYS) expect(buildStage).toContainEqual({ keyword: 'ARG', args: key })
  })

  it('behavior: the image never holds the test build: no word of kms-test, and the one bundle build is --only kms', () => {
    // The raw text, comments included: the test build (dev-root trust in enclave mode) has no business here.
    expect(dockerfile.toLowerCase()).not.toContain('kms-test')
    expect(dockerfile).not.toContain('TEST_BUILD')
    const builds = instructions.filter(({ keyword, args }) => keyword === 'RUN' && /esbuild|npm run build|npm run --silent build/.test(args)).map(({ args }) => args)
    expect(builds).toEqual(['npx tsx esbuild.config.ts --only kms && sha256sum dist/kms.mjs'])
    // What `--only kms` selects: dist/kms.mjs, built with the test switch off.
    expect(kmsBundleOptions.outfile).toBe('dist/kms.mjs')
    expect(kmsBundleOptions.define?.['__NOVA_KMS_TEST_BUILD__']).toBe('false')
  })

  it('behavior: the final stage copies in the bundle and nothing else', () => {
    const copies = finalStage.filter(({ keyword }) => keyword === 'COPY' || keyword === 'ADD')
    expect(copies).toEqual([{ keyword: 'COPY', args: '--from=build /src/dist/kms.mjs /app/kms.mjs' }])
    expect(finalStage.filter(({ keyword }) => keyword === 'RUN')).toEqual([])
    const entrypoint = finalStage.filter(({ keyword }) => keyword === 'ENTRYPOINT' || keyword === 'CMD')
    expect(entrypoint).toEqual([{ keyword: 'ENTRYPOINT', args: '["node", "/app/kms.mjs"]' }])
  })

  it('behavior: the final stage runs as the unprivileged node user (uid 1000), not root', () => {
    const users = finalStage.filter(({ keyword }) => keyword === 'USER').map(({ args }) => args)
    expect(users.at(-1)).toBe('node')
    for (const user of users) expect(user).not.toMatch(/^(root|0)(:.*)?$/)
    // The ENTRYPOINT comes after the USER, so the node process is never root.
    expect(finalStage.findIndex(({ keyword }) => keyword === 'USER')).toBeLessThan(finalStage.findIndex(({ keyword }) => keyword === 'ENTRYPOINT'))
  })

  it('behavior: enclave mode by default, and the node settings are the build arguments', () => {
    const env = Object.assign({}, ...finalStage.filter(({ keyword }) => keyword === 'ENV').map(({ args }) => assignments(args))) as Record<string, string>
    expect(env['IN_ENCLAVE']).toBe('true')
    expect(env['BIND_ADDR']).toBe('0.0.0.0:8000')
    for (const key of BUILD_ARG_KEYS) {
      expect(finalStage).toContainEqual({ keyword: 'ARG', args: key })
      expect(env[key]).toBe(`\${${key}}`)
    }
    // The host must never choose keys, secrets or roots (enclave mode refuses them anyway).
    for (const forbidden of ['NODE_PRIVATE_KEY', 'MASTER_SECRET_HEX', 'NITRO_ROOT_CERT_PEM']) expect(dockerfile).not.toContain(forbidden)
  })

  it('behavior: the Node major of the pin is the one README\'s deployment section states, everywhere it states one', () => {
    const major = PINNED.exec(baseImage)![1]!
    const section = deploymentSection()
    const stated = [...section.matchAll(/\bNode (\d+)\b/g)].map((match) => match[1])
    expect(stated.length).toBeGreaterThan(0)
    expect(new Set(stated)).toEqual(new Set([major]))
    expect(section).toContain(`node:${major}-bookworm-slim`)
    expect(section).toContain(`docker buildx imagetools inspect node:${major}-bookworm-slim --format '{{json .Manifest}}'`)
    expect(dockerfile).toMatch(new RegExp(`^# Production image of a Nova KMS node .*Node ${major},`, 'm'))
  })

  it('behavior: package.json engines admits the image\'s Node (its floor is still the dev machine\'s Node 20)', () => {
    const major = Number(PINNED.exec(baseImage)![1])
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node
    const floor = /^>=\s*(\d+)/.exec(engines)
    expect(floor, `engines.node ${engines} is a >= range`).not.toBeNull()
    expect(Number(floor![1])).toBeLessThanOrEqual(major)
  })
})

describe('.dockerignore', () => {
  it('behavior: keeps dependencies, build output and local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
    for (const entry of ['.git', 'node_modules', 'dist', '.devnet', '.test-builds']) expect(ignored).toContain(entry)
    // What the build stage copies must not be ignored.
    for (const needed of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'esbuild.config.ts', 'core', 'functions', 'bundle']) expect(ignored).not.toContain(needed)
  })
})
