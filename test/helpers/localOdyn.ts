/**
 * A node's own Odyn for enclave-mode tests: `node dist/nova-runtime.mjs` serving the runtime
 * API (`/v1/eth/*`, `/v1/random`, `/v1/encryption/*`, `/v1/attestation`) on a chosen loopback
 * port, from a devnet.json with one `apps[]` entry and no `kmsAppId` (no KMS integration).
 * The keys are made here, so the instance can be registered before the API runs. With `pcrs`
 * its documents carry that PCR0..2 (the app's `pcrs` in devnet.json) instead of the zeros that
 * verifiers read as debug mode, so a node that refuses debug documents can accept them.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { p384 } from '@noble/curves/nist.js'
import { findFreePort, forEachLine, isPortFree, stopProcess, waitUntil } from '../../bundle/processes'
import { generateWalletPrivateKey, importP384PrivateKey, privateKeyToWallet, type P384PrivateKey } from '../../core/crypto'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { cryptoRandom } from './kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RUNTIME_BUNDLE = 'dist/nova-runtime.mjs'

export interface LocalOdyn {
  appId: number
  wallet: Wallet
  teeKey: P384PrivateKey
  /** PCR0..2 of its documents; `undefined`: all zero. */
  pcrs: readonly [Uint8Array, Uint8Array, Uint8Array] | undefined
  devnetPath: string
  /** The API port (the Aux API takes port + 1). */
  port: number
  /** `http://127.0.0.1:<port>`, for `ODYN_URL`. */
  url: string
  /** Whether the runtime process is running. */
  readonly running: boolean
  /** The runtime process's PID while it runs (the bench reads its CPU time). */
  readonly pid: number | undefined
  start(): Promise<void>
  stop(): Promise<void>
}

async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await findFreePort()
    if (port < 65535 && (await isPortFree(port + 1))) return port
  }
  throw new Error('no free port pair')
}

/** Makes the keys and the devnet.json, and reserves a port; `start()` runs the runtime. */
export async function createLocalOdyn(appId: number, options: { pcrs?: readonly [Uint8Array, Uint8Array, Uint8Array] } = {}): Promise<LocalOdyn> {
  const walletKey = generateWalletPrivateKey(cryptoRandom)
  const wallet = privateKeyToWallet(walletKey)
  let teeScalar = cryptoRandom.bytes(48)
  while (!p384.utils.isValidSecretKey(teeScalar)) teeScalar = cryptoRandom.bytes(48)
  const teeKey = await importP384PrivateKey(teeScalar)
  const devnetPath = join(mkdtempSync(join(tmpdir(), 'kms-odyn-')), 'devnet.json')
  const app = {
    appId,
    wallet,
    walletKey: bytesToHex(walletKey),
    teeScalar: bytesToHex(teeScalar),
    ...(options.pcrs === undefined ? {} : { pcrs: Object.fromEntries(options.pcrs.map((pcr, index) => [String(index), bytesToHex(pcr)])) }),
  }
  writeFileSync(devnetPath, JSON.stringify({ apps: [app] }, null, 2))
  const port = await freePortPair()
  let child: ChildProcess | undefined
  return {
    appId,
    wallet,
    teeKey,
    pcrs: options.pcrs,
    devnetPath,
    port,
    url: `http://127.0.0.1:${port}`,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null
    },
    get pid() {
      return child?.pid
    },
    async start() {
      const spawned = spawn(process.execPath, [RUNTIME_BUNDLE, '--devnet', devnetPath, '--app-id', String(appId), '--port', String(port)], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      child = spawned
      const stdout: string[] = []
      let stderr = ''
      forEachLine(spawned.stdout, (line) => stdout.push(line))
      spawned.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
      await waitUntil('the nova-runtime ready line', () => stdout.length > 0, {
        timeoutMs: 20_000,
        abortIf: () => (spawned.exitCode === null ? undefined : `exited with ${spawned.exitCode}: ${stderr}`),
      })
    },
    async stop() {
      if (child !== undefined) await stopProcess(child)
      child = undefined
    },
  }
}
