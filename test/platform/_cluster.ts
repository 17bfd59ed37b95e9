/**
 * A real KMS cluster for the platform suites: anvil with the real contracts, three
 * `node dist/kms.mjs` processes registered on-chain and ready, Nova app instances with the
 * keys a runtime needs (wallet key and P-384 scalar), the devnet.json a runtime reads, and
 * `node dist/nova-runtime.mjs` spawned the way the devnet launcher spawns it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { p384 } from '@noble/curves/nist.js'
import type { Address, Hex } from 'viem'
import { findFreePort, forEachLine, isPortFree, stopProcess, waitUntil } from '../../bundle/processes'
import { generateWalletPrivateKey, importP384PrivateKey, privateKeyToWallet, type P384PrivateKey } from '../../core/crypto'
import { bytesToHex, type Wallet } from '../../core/encoding'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { cryptoRandom, registerKmsNode, startProcessNode, tickUntil, type TestNode } from '../helpers/kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const RUNTIME_BUNDLE = 'dist/nova-runtime.mjs'

export interface ClusterNode {
  node: TestNode
  wallet: Wallet
}

export interface PlatformCluster {
  chain: DevChain
  /** In start order, not URL order. */
  members: ClusterNode[]
  stop(): Promise<void>
}

/** An app instance with its keys, as devnet.json's `apps[]` lists it. */
export interface RuntimeApp {
  appId: number
  walletKey: Uint8Array
  wallet: Wallet
  teeScalar: Uint8Array
  teeKey: P384PrivateKey
}

/** Three process nodes with 1 s ticks, each registered under its own URL, all ready. */
export async function startPlatformCluster(nodeCount = 3): Promise<PlatformCluster> {
  const chain = await startDevChain()
  const members: ClusterNode[] = []
  const stop = async (): Promise<void> => {
    for (const member of members) await member.node.stop()
    await chain.stop()
  }
  try {
    for (let index = 0; index < nodeCount; index++) {
      const node = await startProcessNode(chain, { KMS_NODE_TICK_SECONDS: '1', DATA_SYNC_INTERVAL_SECONDS: '1', LOG_LEVEL: 'ERROR' })
      members.push({ node, wallet: (await registerKmsNode(chain, node)).wallet })
    }
    for (const member of members) await tickUntil(member.node, (status) => status.node.service_available, { attempts: 60 })
    return { chain, members, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

/**
 * Registers an app (unless it exists), a version, and an ACTIVE zkVerified instance with a
 * fresh wallet and P-384 key.
 */
export async function registerRuntimeApp(chain: DevChain, appId: number, { existingApp = false } = {}): Promise<RuntimeApp> {
  const walletKey = generateWalletPrivateKey(cryptoRandom)
  const wallet = privateKeyToWallet(walletKey)
  let teeScalar = cryptoRandom.bytes(48)
  while (!p384.utils.isValidSecretKey(teeScalar)) teeScalar = cryptoRandom.bytes(48)
  const teeKey = await importP384PrivateKey(teeScalar)
  if (!existingApp) {
    await chain.registerApp({
      appId,
      appOwner: chain.addresses.owner,
      dappContract: '0x0000000000000000000000000000000000000000',
      teeArch: `0x${'00'.repeat(32)}`,
      metadataUri: '',
      appWallet: chain.addresses.owner,
    })
    await chain.enrollVersion({ appId, versionId: 1, versionName: 'v1', codeMeasurement: `0x${'00'.repeat(32)}`, imageUri: '' })
  }
  await chain.registerInstance({
    appId,
    versionId: 1,
    teeWalletAddress: wallet as Address,
    teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}` as Hex,
    instanceUrl: 'https://app.example.com',
    zkVerified: true,
  })
  return { appId, walletKey, wallet, teeScalar, teeKey }
}

/** Writes a devnet.json of the shape the runtime reads; `kms: false` leaves the KMS fields out. */
export function writeDevnetFile(chain: DevChain, apps: readonly RuntimeApp[], { kms = true } = {}): string {
  const path = join(mkdtempSync(join(tmpdir(), 'nova-runtime-')), 'devnet.json')
  const devnet = {
    ...(kms ? { rpcUrl: chain.rpcUrl, kmsAppId: chain.addresses.kmsAppId, contracts: { novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry } } : {}),
    apps: apps.map((app) => ({ appId: app.appId, wallet: app.wallet, walletKey: bytesToHex(app.walletKey), teeScalar: bytesToHex(app.teeScalar) })),
  }
  writeFileSync(path, JSON.stringify(devnet, null, 2))
  return path
}

export interface RuntimeProcess {
  child: ChildProcess
  apiUrl: string
  auxUrl: string
  /** Every stdout line so far. */
  stdout: string[]
  stderr(): string
  stop(): Promise<void>
}

/** A port P with P+1 free too (the Aux API's). */
async function freePortPair(): Promise<number> {
  for (;;) {
    const port = await findFreePort()
    if (port < 65535 && (await isPortFree(port + 1))) return port
  }
}

/** Runs `node dist/nova-runtime.mjs <args>` to its exit. */
export function runRuntimeCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [RUNTIME_BUNDLE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Spawns the runtime exactly as the devnet launcher does, and waits for its one stdout line. */
export async function spawnRuntime(devnetPath: string, appId: number, extraArguments: readonly string[] = []): Promise<RuntimeProcess> {
  if (!existsSync(join(ROOT, RUNTIME_BUNDLE))) throw new Error(`${RUNTIME_BUNDLE} is missing: run \`npm run build\` first`)
  const port = await freePortPair()
  const child = spawn(process.execPath, [RUNTIME_BUNDLE, '--devnet', devnetPath, '--app-id', String(appId), '--port', String(port), ...extraArguments], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdout: string[] = []
  let stderr = ''
  forEachLine(child.stdout, (line) => stdout.push(line))
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)))
  await waitUntil('the nova-runtime ready line', () => stdout.length > 0, {
    timeoutMs: 20_000,
    abortIf: () => (child.exitCode === null ? undefined : `exited with ${child.exitCode}: ${stderr}`),
  })
  return {
    child,
    apiUrl: `http://127.0.0.1:${port}`,
    auxUrl: `http://127.0.0.1:${port + 1}`,
    stdout,
    stderr: () => stderr,
    stop: () => stopProcess(child),
  }
}
