/**
 * The README's first command, `npm start` (bundle/devnet.ts), on this machine: the devnet
 * deploys, starts the nodes, makes them ready, runs the demo app's derive, put and get,
 * prints its summary and writes devnet.json; SIGTERM to the npm process stops every process
 * it started. Every run uses ports this file picks and a state dir of its own, and the
 * launcher's children are stopped by PID if a check fails.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach, describe, expect, it } from 'vitest'
import { hasExited, signal, waitUntil } from '../../bundle/processes'
import { encodePem } from '../../core/ca/_pem'
import { privateKeyToWallet } from '../../core/crypto'
import { devRootCertificateDer } from '../../core/tee'
import { parseHex } from '../../core/encoding'
import { DEVNET, devnetStateDir, freePortBlock, isAlive, killListed, ROOT, type PidFile } from '../helpers/devnetLauncher'

const run = promisify(execFile)
const cleanups: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const stateDir = devnetStateDir

describe('npm start (bundle/devnet.ts)', () => {
  it('behavior: --help lists every flag and the port scheme', async () => {
    const { stdout } = await run(process.execPath, [...DEVNET, '--help'], { cwd: ROOT, timeout: 30_000 })
    for (const flag of ['--nodes N', '--port-base B', '--runtime-port-base R', '--app ID', '--state-dir DIR', '--no-build', '--exit', '--help']) expect(stdout).toContain(flag)
    expect(stdout).toContain('(default 3)')
    expect(stdout).toContain('127.0.0.1:B+i (default 8000)')
    expect(stdout).toContain('R+2i, its Aux API on R+2i+1')
  })

  it('error: a taken port is reported before anything starts, never replaced', async () => {
    const base = await freePortBlock(3)
    const server: Server = createServer((socket) => socket.destroy())
    await new Promise<void>((resolve) => server.listen(base + 1, '127.0.0.1', resolve))
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())))
    const directory = stateDir()
    cleanups.push(() => killListed(directory))
    const runtimeBase = await freePortBlock(2)
    const result = await run(process.execPath, [...DEVNET, '--no-build', '--port-base', String(base), '--runtime-port-base', String(runtimeBase), '--page-port', String(await freePortBlock(1)), '--state-dir', directory], { cwd: ROOT, timeout: 60_000 }).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    )
    expect(result.code).toBe(1)
    expect(result.output).toContain(`port ${base + 1} is taken (node 2: --port-base ${base} + 1)`)
    expect(result.output).not.toContain('anvil:')
    expect(existsSync(join(directory, 'pids.json'))).toBe(false)
  })

  it('behavior: brings up a ready node and an authenticated demo app, then stops everything', async () => {
    const directory = stateDir()
    cleanups.push(() => killListed(directory))
    const base = await freePortBlock(1)
    const runtimeBase = await freePortBlock(2)
    const { stdout } = await run(
      process.execPath,
      [...DEVNET, '--exit', '--no-build', '--nodes', '1', '--port-base', String(base), '--runtime-port-base', String(runtimeBase), '--page-port', String(await freePortBlock(1)), '--state-dir', directory],
      { cwd: ROOT, timeout: 240_000 },
    )
    expect(stdout).toContain('1 node(s) ready')
    expect(stdout).toMatch(/derived wallet\/root = [0-9a-f]{64}/)
    expect(stdout).toContain('stored and read back: "hello from the devnet"')
    const summary = JSON.parse(readFileSync(join(directory, 'devnet.json'), 'utf8')) as { nodes: { url: string }[] }
    expect(summary.nodes).toHaveLength(1)
    // Everything it started is gone: the node no longer answers.
    await expect(fetch(`${summary.nodes[0]!.url}/health`)).rejects.toThrow()
  }, 240_000)

  it('behavior: --custodians 2/3 writes three key files, waits for the backup and prints the practice commands for two custodians', async () => {
    const directory = stateDir()
    cleanups.push(() => killListed(directory))
    const base = await freePortBlock(1)
    const runtimeBase = await freePortBlock(2)
    const { stdout } = await run(
      process.execPath,
      [...DEVNET, '--exit', '--no-build', '--nodes', '1', '--custodians', '2/3', '--port-base', String(base), '--runtime-port-base', String(runtimeBase), '--page-port', String(await freePortBlock(1)), '--state-dir', directory],
      { cwd: ROOT, timeout: 240_000 },
    )
    expect(stdout).toContain('backup published')
    expect(stdout).toContain('Recovery practice (2 of 3 custodians')
    expect(stdout.match(/npx nova-kms custodian recover /g)).toHaveLength(2)
    for (const file of ['custodian-passphrase.txt', 'dev-root.pem']) expect(existsSync(join(directory, file))).toBe(true)
    const registered = new Set<string>()
    for (const index of [1, 2, 3]) {
      const keyFile = join(directory, `custodian-${index}.json`)
      expect(statSync(keyFile).mode & 0o777).toBe(0o600)
      // Each file is a real custodian key file: show-key reads its public part, and the three differ.
      const { stdout: shown } = await run(process.execPath, ['--import', 'tsx', 'bundle/cli.ts', 'custodian', 'show-key', '--key', keyFile], { cwd: ROOT, timeout: 60_000 })
      registered.add(shown)
    }
    expect(registered.size).toBe(3)
  }, 240_000)

  it('behavior: by default 3 nodes, a summary table, devnet.json for every app; SIGTERM to npm stops every child', async () => {
    const directory = stateDir()
    cleanups.push(() => killListed(directory))
    const base = await freePortBlock(3)
    const runtimeBase = await freePortBlock(4)
    const npm: ChildProcess = spawn('npm', ['start', '--', '--no-build', '--port-base', String(base), '--runtime-port-base', String(runtimeBase), '--page-port', String(await freePortBlock(1)), '--state-dir', directory, '--app', '4242'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanups.push(() => {
      if (!hasExited(npm)) signal(npm.pid!, 'SIGKILL')
    })
    let output = ''
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
    await waitUntil('the devnet to be ready', () => output.includes('[devnet] running (pid'), {
      timeoutMs: 200_000,
      intervalMs: 200,
      abortIf: () => (hasExited(npm) ? `npm exited with ${npm.exitCode}:\n${output}` : undefined),
    })

    // The progress and the summary.
    expect(output).toMatch(/\[devnet\] contracts: built \(\d+\.\d s\)/)
    expect(output).toMatch(/\[devnet\] readiness: 3 node\(s\) ready \(\d+\.\d s\)/)
    expect(output).toMatch(/\[devnet\] ready in \d+\.\d s/)
    for (let index = 0; index < 3; index++) {
      expect(output).toMatch(new RegExp(`^ +${index + 1} +http://127\\.0\\.0\\.1:${base + index} +\\d+ +0x[0-9a-f]{40} +yes$`, 'm'))
    }
    expect(output).toMatch(/^ +CA SHA-256 +[0-9a-f]{64}$/m)
    expect(output).toMatch(/^ +NovaAppRegistry +0x[0-9a-f]{40}$/m)
    expect(output).toContain(`devnet.json       ${join(directory, 'devnet.json')}`)
    // …and at the end, the cluster console's table (issue 19), as `nova-kms cluster` prints it.
    expect(output).toMatch(/^  cluster console \(npx nova-kms cluster --rpc-url http:\/\/127\.0\.0\.1:\d+ --kms-registry 0x[0-9a-f]{40}\):$/m)
    expect(output).toMatch(/^  NODE +WALLET +VERSION +READY +SECRET +PEERS +SYNC +OPERATOR +CA$/m)
    for (let index = 0; index < 3; index++) {
      expect(output).toMatch(new RegExp(`^  http://127\\.0\\.0\\.1:${base + index} +0x[0-9a-f]{4}…[0-9a-f]{4} +v1 ENROLLED \\([^)]*\\) +yes +e0 ok +3/3 +.* yes +[0-9a-f]{16}…$`, 'm'))
    }
    expect(output).toContain('\n  all 3 node(s) healthy\n')

    // devnet.json: the old fields, and kmsAppId, chainId and apps[] (the demo app first).
    interface DevnetApp { appId: number; wallet: string; walletKey: string; teeScalar: string; runtimeApi: { url: string; auxUrl: string } }
    const devnet = JSON.parse(readFileSync(join(directory, 'devnet.json'), 'utf8')) as {
      rpcUrl: string
      chainId: number
      kmsAppId: number
      contracts: { novaAppRegistry: string; kmsRegistry: string }
      nodes: { url: string; wallet: string; teePubkey: string }[]
      caFingerprintSha256: string
      devRootPem: string
      demoApp: Omit<DevnetApp, 'runtimeApi'>
      apps: DevnetApp[]
    }
    expect(devnet).toMatchObject({ chainId: 31337, kmsAppId: 49 })
    expect(devnet.nodes.map((node) => node.url)).toEqual([0, 1, 2].map((index) => `http://127.0.0.1:${base + index}`))
    expect(devnet.apps.map((app) => app.appId)).toEqual([1000, 4242])
    for (const [index, app] of devnet.apps.entries()) {
      expect(app.walletKey).toMatch(/^[0-9a-f]{64}$/)
      expect(app.teeScalar).toMatch(/^[0-9a-f]{96}$/)
      expect(app.wallet).toBe(privateKeyToWallet(parseHex(app.walletKey)!))
      expect(app.runtimeApi).toEqual({ url: `http://127.0.0.1:${runtimeBase + 2 * index}`, auxUrl: `http://127.0.0.1:${runtimeBase + 2 * index + 1}` })
    }
    const { runtimeApi, ...demo } = devnet.apps[0]!
    expect(devnet.demoApp).toEqual(demo)
    expect(devnet.devRootPem).toBe(encodePem('CERTIFICATE', devRootCertificateDer()))
    const ca = (await (await fetch(`${devnet.nodes[2]!.url}/kms/ca`)).json()) as { fingerprint_sha256: string }
    expect(devnet.caFingerprintSha256).toBe(ca.fingerprint_sha256)

    // The local runtime API, once dist/nova-runtime.mjs is built; a clear line until then.
    if (existsSync(`${ROOT}dist/nova-runtime.mjs`)) {
      expect(output).toMatch(/\[devnet\] runtime: 2 answering/)
      expect((await fetch(`${runtimeApi.url}/v1/eth/address`)).status).toBe(200)
    } else {
      expect(output).toContain('the local runtime API is not built')
    }

    // SIGTERM to the npm process: every process the devnet started is gone.
    const pids = JSON.parse(readFileSync(join(directory, 'pids.json'), 'utf8')) as PidFile
    const children = pids.children.map((child) => child.pid)
    expect(pids.children.filter((child) => child.what === 'node')).toHaveLength(3)
    expect(pids.children.filter((child) => child.what === 'anvil')).toHaveLength(1)
    expect([pids.launcher, ...children].every(isAlive)).toBe(true)
    const exited = new Promise((resolve) => npm.once('exit', resolve))
    signal(npm.pid!, 'SIGTERM')
    await waitUntil('npm to exit', () => hasExited(npm), { timeoutMs: 20_000 })
    await exited
    await waitUntil('every child of the devnet to be gone', () => ![pids.launcher, ...children].some(isAlive), { timeoutMs: 10_000 })
    expect(output).toContain('[devnet] SIGTERM: stopping')
    expect(output).toContain('[devnet] stopped everything it started')
    expect(existsSync(join(directory, 'pids.json'))).toBe(false)
    await expect(fetch(`${devnet.nodes[0]!.url}/health`)).rejects.toThrow()
  }, 240_000)
})
