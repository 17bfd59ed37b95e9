/**
 * The production image, built from the project's Dockerfile and run on this machine (issue
 * 20). No Docker engine: a stand-in for the pinned base (bookworm minbase by debootstrap, the
 * Node and npm versions the Dockerfile names, the user `node`), then `buildah bud` of the
 * unchanged Dockerfile, twice in two clean storages, then `buildah run` of the result in dev
 * mode against anvil and in enclave mode against a local runtime API.
 *
 * The host's CA (outbound TLS here is re-signed) reaches the build stage's `npm install`
 * only through a read-only mount and a user `.npmrc` naming it as `cafile`, also mounted:
 * never `--env`, the base or the final image.
 *
 * Each step's time and the image size are printed at the end (README, "Building the image
 * here"). The base root file system is built once per run and committed into both storages.
 */
import type { ChildProcess } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Address, Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnKmsNode, waitUntil, type KmsNodeProcess } from '../../bundle/processes'
import { BUILD_ARG_KEYS } from '../../deploy/render-manifest'
import { INSTANCE_STATUS } from '../../core/chain/types'
import { bytesToHex } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { globalArgDefaults } from '../helpers/dockerfile'
import { nodeEnvironment, processTestNode, registerKmsNode, registerTestApp, type NodeStatus, type TestNode } from '../helpers/kmsNodes'
import { createLocalOdyn, type LocalOdyn } from '../helpers/localOdyn'
import { BuildahStore, buildBaseRootfs, descendantsOf, hostCaFile, processIdentity, type ImageInspection, type LayerEntry } from './imageBuild'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const { NODE_VERSION, NPM_VERSION } = globalArgDefaults(DOCKERFILE)
const BASE_TAG = `localhost/nova-kms-base:node-${NODE_VERSION}`
const IMAGE_TAG = 'localhost/nova-kms:test'
/** 2026-01-01T00:00:00Z: every date debootstrap, dpkg and useradd write into the base. */
const SOURCE_DATE_EPOCH = 1_767_225_600
/** Where the host's CA and the npm user config appear inside the build stage. */
const CA_IN_BUILD = '/run/nova-build/host-ca.pem'

const times: Record<string, number> = {}
let work: string
let rootfs: string
let stores: [BuildahStore, BuildahStore]
const digests: { base: string[]; image: string[] } = { base: [], image: [] }
const bundleHashes: string[] = []
let inspection: ImageInspection
let layers: { entries: LayerEntry[][]; layerBytes: number[] }
let chain: DevChain | undefined
/** The dev-mode node's instance, stopped before the enclave-mode node starts. */
let devInstanceId: number | undefined
const running: { node: KmsNodeProcess; container: string; store: BuildahStore }[] = []
const odyns: LocalOdyn[] = []

/** Times `run` under `label` (seconds, printed at the end). */
async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now()
  try {
    return await run()
  } finally {
    times[label] = (performance.now() - started) / 1000
  }
}

/** `buildah bud` of the unchanged Dockerfile, with only its declared arguments set; returns the build log. */
async function buildImage(store: BuildahStore, buildArgs: Record<string, string>, tag = IMAGE_TAG): Promise<string> {
  const caFile = await hostCaFile()
  const mounts: string[] = []
  if (caFile !== undefined) {
    const npmrc = join(store.dir, 'npmrc')
    writeFileSync(npmrc, `cafile=${CA_IN_BUILD}\n`)
    mounts.push('--volume', `${caFile}:${CA_IN_BUILD}:ro`, '--volume', `${npmrc}:/root/.npmrc:ro`)
  }
  const args = Object.entries(buildArgs).flatMap(([key, value]) => ['--build-arg', `${key}=${value}`])
  const { stdout, stderr } = await store.buildah(
    ['bud', '--isolation', 'chroot', '--network', 'host', '--pull=never', '--layers=false', '--timestamp', '0', ...mounts, ...args, '--file', join(ROOT, 'Dockerfile'), '--tag', tag, ROOT],
    240_000,
  )
  return stdout + stderr
}

/** The operator's node settings, as deploy/operator.env gives them and the Dockerfile declares them. */
function operatorBuildArgs(): Record<string, string> {
  const env = Object.fromEntries(
    readFileSync(join(ROOT, 'deploy/operator.env'), 'utf8')
      .split('\n')
      .map((line) => /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[2]!.replace(/^["']|["']$/g, '')]),
  )
  return Object.fromEntries(BUILD_ARG_KEYS.map((key) => [key, env[key] ?? '']))
}

/**
 * Runs the image's entrypoint in a new container of `store` (`buildah run`, chroot isolation,
 * the host's network: it binds a loopback port) with `env` on top of the image's own, and
 * resolves once `/health` answers.
 */
async function runImage(store: BuildahStore, env: Record<string, string>): Promise<{ node: KmsNodeProcess; container: string }> {
  const container = (await store.buildah(['from', '--quiet', '--pull-never', IMAGE_TAG])).stdout.trim()
  const entrypoint = inspection.config.Entrypoint ?? []
  try {
    const node = await spawnKmsNode({
      env,
      healthTimeoutMs: 60_000,
      command: (full) => ({
        file: 'buildah',
        // Only the test's variables: PATH stays the image's own.
        args: store.argsFor(['run', '--isolation', 'chroot', '--network', 'host', ...Object.entries(full).filter(([key]) => key !== 'PATH').flatMap(([key, value]) => ['--env', `${key}=${value}`]), container, '--', ...entrypoint]),
      }),
    })
    running.push({ node, container, store })
    return { node, container }
  } catch (error) {
    await store.buildah(['rm', container]).catch(() => undefined)
    throw error
  }
}

/** The node process inside the container: the one descendant of `buildah run` whose command line is the entrypoint. */
function nodeInside(child: ChildProcess): { pid: number; argv: string[]; uid: number } {
  const entrypoint = inspection.config.Entrypoint ?? []
  for (const pid of descendantsOf(child.pid!)) {
    try {
      const identity = processIdentity(pid)
      // buildah resolves the entrypoint's program on the image's PATH (`node` → /usr/local/bin/node).
      const [program, ...args] = identity.argv
      if (program !== undefined && basename(program) === entrypoint[0] && args.join(' ') === entrypoint.slice(1).join(' ')) return { pid, ...identity }
    } catch {
      // Gone meanwhile.
    }
  }
  throw new Error(`no process running ${entrypoint.join(' ')} under buildah pid ${child.pid}`)
}

async function waitForStatus(node: TestNode, predicate: (status: NodeStatus) => boolean, timeoutMs = 60_000): Promise<NodeStatus> {
  return waitUntil('the node status', async () => {
    const status = await node.status()
    return predicate(status) ? status : undefined
  }, { timeoutMs, intervalMs: 500 })
}

async function stopRunning(): Promise<void> {
  for (const { node, container, store } of running.splice(0)) {
    await node.stop()
    await store.buildah(['rm', container]).catch(() => undefined)
  }
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('the image suite needs root (debootstrap, chroot and buildah with vfs storage)')
  expect(NODE_VERSION, 'the Dockerfile declares ARG NODE_VERSION').toMatch(/^\d+\.\d+\.\d+$/)
  expect(NPM_VERSION, 'the Dockerfile declares ARG NPM_VERSION').toMatch(/^\d+\.\d+\.\d+$/)
  work = mkdtempSync(join(tmpdir(), 'kms-image-'))
  rootfs = join(work, 'rootfs')
  stores = [new BuildahStore(join(work, 'store-a')), new BuildahStore(join(work, 'store-b'))]
})

afterAll(async () => {
  await stopRunning()
  for (const odyn of odyns) await odyn.stop().catch(() => undefined)
  await chain?.stop()
  for (const store of stores ?? []) await store.remove().catch(() => undefined)
  if (work !== undefined) rmSync(work, { recursive: true, force: true })
  const rows = Object.entries(times).map(([step, seconds]) => `  ${step.padEnd(48)} ${seconds.toFixed(1).padStart(6)} s`)
  const size = layers === undefined ? '' : `\n  image: ${layers.layerBytes.length} layers, ${(layers.layerBytes.reduce((a, b) => a + b, 0) / 1e6).toFixed(1)} MB as stored (top layer ${(layers.layerBytes.at(-1)! / 1e6).toFixed(2)} MB)\n  base digest ${digests.base[0]}\n  image digest ${digests.image[0]}\n  bundle sha256 ${bundleHashes[0]}`
  console.log(`image suite, step times:\n${rows.join('\n')}${size}`)
})

describe('the production image, built here with buildah', () => {
  it(`behavior: a stand-in base (bookworm minbase, Node ${NODE_VERSION}, npm ${NPM_VERSION}, user node 1000:1000) commits to the same digest in two clean storages`, async () => {
    const steps = await timed('base: root file system', () => buildBaseRootfs({ dir: rootfs, packagesDir: join(work, 'packages'), nodeVersion: NODE_VERSION!, npmVersion: NPM_VERSION!, sourceDateEpoch: SOURCE_DATE_EPOCH }))
    for (const [step, ms] of Object.entries(steps)) times[`  ${step}`] = ms / 1000
    expect(readFileSync(join(rootfs, 'etc/passwd'), 'utf8')).toMatch(/^node:x:1000:1000::\/home\/node:\/bin\/bash$/m)
    expect(readFileSync(join(rootfs, 'etc/group'), 'utf8')).toMatch(/^node:x:1000:$/m)
    // useradd took the password-change day from SOURCE_DATE_EPOCH, not from the clock.
    expect(readFileSync(join(rootfs, 'etc/shadow'), 'utf8')).toMatch(new RegExp(`^node:!:${SOURCE_DATE_EPOCH / 86_400}:`, 'm'))
    for (const [index, store] of stores.entries()) digests.base.push(await timed(`base: commit (storage ${'ab'[index]})`, () => store.commitRootfs(rootfs, BASE_TAG)))
    expect(digests.base[0]).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(digests.base[1]).toBe(digests.base[0])
  })

  it('behavior: the Dockerfile, built twice from that base in two clean storages, gives one image digest, and its bundle is byte for byte dist/kms.mjs', async () => {
    const buildArgs = { BASE_IMAGE: BASE_TAG, ...operatorBuildArgs() }
    for (const [index, store] of stores.entries()) {
      const log = await timed(`image: buildah bud (storage ${'ab'[index]})`, () => buildImage(store, buildArgs))
      // The build stage prints the bundle's hash (`sha256sum dist/kms.mjs`).
      bundleHashes.push(/^([0-9a-f]{64})\s+dist\/kms\.mjs$/m.exec(log)?.[1] ?? `no hash in the build log:\n${log.slice(-3000)}`)
      digests.image.push(await store.digest(IMAGE_TAG))
    }
    expect(digests.image[0]).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(digests.image[1]).toBe(digests.image[0])
    // The image's bundle is the one every other suite tests (npm test builds it first).
    const local = createHash('sha256').update(readFileSync(join(ROOT, 'dist/kms.mjs'))).digest('hex')
    expect(bundleHashes).toEqual([local, local])
  })

  it('behavior: the image runs as node, in enclave mode by default, and its own layer holds /app/kms.mjs and nothing else', async () => {
    const [store] = stores
    inspection = await store.inspect(IMAGE_TAG)
    expect(inspection.config.User).toBe('node')
    expect(inspection.config.Entrypoint).toEqual(['node', '/app/kms.mjs'])
    expect(inspection.created).toBe('1970-01-01T00:00:00Z')
    const env = Object.fromEntries((inspection.config.Env ?? []).map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))
    expect(env['IN_ENCLAVE']).toBe('true')
    for (const [key, value] of Object.entries(operatorBuildArgs())) expect(env[key]).toBe(value)
    // The host's CA never reaches the image: no variable names it, and no layer holds it.
    expect(Object.keys(env).filter((key) => /CA_?CERT|CAFILE/i.test(key))).toEqual([])
    layers = await timed('image: push to an OCI layout and list layers', () => store.layers(IMAGE_TAG, join(work, 'oci')))
    const base = await store.inspect(BASE_TAG)
    expect(inspection.diffIds.slice(0, -1)).toEqual(base.diffIds)
    const own = layers.entries.at(-1)!
    expect(own.map(({ path }) => path.replace(/^\.\//, '')).sort()).toEqual(['app/', 'app/kms.mjs'])
    const bundle = own.find(({ path }) => path.endsWith('kms.mjs'))!
    // Root-owned and read-only to the node user.
    expect(bundle).toMatchObject({ owner: '0/0', mode: '-rw-r--r--', size: readFileSync(join(ROOT, 'dist/kms.mjs')).length })
    const everything = layers.entries.flat().map(({ path }) => path.replace(/^\.\//, ''))
    for (const forbidden of [/^(src|app)\/node_modules\//, /^(src|app)\/(core|functions|bundle|test)\//, /^(src|app)\/package(-lock)?\.json$/, /^run\/nova-build\//, /^root\/\.npmrc$/]) {
      expect(everything.filter((path) => forbidden.test(path)), String(forbidden)).toEqual([])
    }
  })

  it('behavior: in dev mode against anvil the image serves /health as uid 1000, and a registered app derives', async () => {
    chain = await timed('run: anvil with the contracts', () => startDevChain())
    const { node, container } = await timed('run: dev mode to /health', () => runImage(stores[0], nodeEnvironment(chain!, { KMS_NODE_TICK_SECONDS: '1' })))
    expect(container).not.toBe('')
    const inside = nodeInside(node.child)
    expect(inside.argv).toEqual(['/usr/local/bin/node', '/app/kms.mjs'])
    expect(inside.uid).toBe(1000)
    expect(await (await fetch(`${node.url}/health`)).json()).toEqual({ status: 'healthy' })
    const kms = processTestNode(node)
    devInstanceId = (await registerKmsNode(chain, kms)).instanceId
    const ready = await timed('run: dev mode to service_available', () => waitForStatus(kms, (status) => status.node.service_available))
    expect(ready.node.mode).toBe('dev')
    const app = await registerTestApp(chain)
    const client = await app.client(kms, { fetch: (input, init) => fetch(input, init) })
    const first = await client.derive({ path: 'image/root', context: 'buildah' })
    const again = await client.derive({ path: 'image/root', context: 'buildah' })
    expect(first.appId).toBe(app.appId)
    expect(first.key.length).toBe(32)
    expect(bytesToHex(again.key)).toBe(bytesToHex(first.key))
    await stopRunning()
    // Stopping buildah stops the node inside it: nothing is left running.
    expect(descendantsOf(node.pid)).toEqual([])
  })

  it('behavior: in enclave mode (the image default) against a local runtime API, it takes its wallet from the runtime and becomes ready', async () => {
    const odyn = await createLocalOdyn(501)
    odyns.push(odyn)
    await odyn.start()
    // The test chain's addresses replace the operator's; IN_ENCLAVE is not set: the image's own `true` holds.
    const env = nodeEnvironment(chain!, { ODYN_URL: odyn.url, KMS_NODE_TICK_SECONDS: '1', LOG_LEVEL: 'ERROR' })
    delete env['IN_ENCLAVE']
    const { node } = await timed('run: enclave mode to /health', () => runImage(stores[0], env))
    const kms = processTestNode(node)
    // A new cluster on the same chain: the dev node's instance is stopped and its hash cleared.
    await chain!.setInstanceStatus(devInstanceId!, INSTANCE_STATUS.STOPPED)
    await chain!.resetMasterSecretHash()
    await chain!.fund(odyn.wallet as Address)
    // Enclave mode keeps only https instances in its peer cache (docs/PROTOCOL.md §7.2); a lone node never calls its own URL.
    await chain!.registerInstance({ teeWalletAddress: odyn.wallet as Address, teePubkey: `0x${bytesToHex(odyn.teeKey.publicKey.der)}` as Hex, instanceUrl: 'https://node-1.kms-image.test', zkVerified: true })
    const ready = await timed('run: enclave mode to service_available', () => waitForStatus(kms, (status) => status.node.service_available, 90_000))
    expect(ready.node.mode).toBe('enclave')
    expect(ready.node.tee_wallet.toLowerCase()).toBe(odyn.wallet.toLowerCase())
    expect(ready.node.tee_pubkey).toBe(bytesToHex(odyn.teeKey.publicKey.der))
    expect(ready.node.master_secret.state).toBe('generated')
    expect(nodeInside(node.child).uid).toBe(1000)
    await stopRunning()
  })

  it('error: a base with another Node version than the Dockerfile names stops the build at its first step', async () => {
    const [store] = stores
    const wrong = NODE_VERSION!.replace(/\d+$/, (patch) => String(Number(patch) + 1))
    const failure = await timed('image: build refused (wrong NODE_VERSION)', () =>
      buildImage(store, { BASE_IMAGE: BASE_TAG, NODE_VERSION: wrong, ...operatorBuildArgs() }, 'localhost/nova-kms:refused').then(
        () => undefined,
        (error: unknown) => error,
      ),
    )
    expect(failure).toBeInstanceOf(Error)
    expect(String(failure)).toContain(`the base has Node v${NODE_VERSION} and npm ${NPM_VERSION}, not v${wrong} and ${NPM_VERSION}`)
    // Refused before `npm install` ran.
    expect(String(failure)).not.toMatch(/added \d+ packages/)
  })
})
