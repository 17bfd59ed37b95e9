/**
 * Real KMS nodes for integration tests: the built `dist/kms.mjs`, loaded in Miniflare or run
 * as `node dist/kms.mjs`, against a dev chain (anvil + the real contracts). Also registers
 * test apps with their own wallet and P-384 keys, and builds SDK clients for them.
 */
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Miniflare } from 'miniflare'
import type { Address, Hex } from 'viem'
import { KmsClient, KmsClientError } from '../../core/client'
import { generateWalletPrivateKey, importP384PrivateKey, privateKeyToWallet, type P384PrivateKey } from '../../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import type { Clock } from '../../core/runtime'
import { findFreePort, spawnKmsNode, type KmsNodeProcess } from '../../bundle/processes'
import { webCryptoRandom } from '../../bundle/runtime'
import type { DevChain } from './devChain'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BUNDLE_PATH = 'dist/kms.mjs'

export const systemClock: Clock = { nowMs: () => Date.now() }
export const cryptoRandom = webCryptoRandom

export interface NodeStatus {
  node: {
    tee_wallet: Wallet
    tee_pubkey: string
    node_url: string
    is_operator: boolean
    service_available: boolean
    unavailable_reason: string
    mode: string
    master_secret: { state: string; synced_from: string | null }
    master_secret_initialized: boolean
  }
  cluster: { kms_app_id: number; registry_address: string; total_instances: number }
  data_store: { namespaces: number; total_keys: number; total_bytes: number }
}

/** One running node, whatever runs it. */
export interface TestNode {
  kind: 'miniflare' | 'process'
  /** The process id, for `node dist/kms.mjs` nodes (to read `/proc/<pid>/status`). */
  pid?: number
  /** The URL peers and clients use. */
  url: string
  fetch(path: string, init?: RequestInit): Promise<Response>
  /** Runs `node_tick` or `sync_tick` now (Miniflare: `scheduled()`; a process ticks by itself). */
  tick(name: 'node_tick' | 'sync_tick'): Promise<void>
  status(): Promise<NodeStatus>
  stop(): Promise<void>
}

/** A `node dist/kms.mjs` node, registered on `chain` and serving (`service_available`). */
export async function startServingProcessNode(chain: DevChain, overrides: Record<string, string> = {}): Promise<TestNode> {
  const node = await startProcessNode(chain, { KMS_NODE_TICK_SECONDS: '1', ...overrides })
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available, { attempts: 40, delayMs: 500 })
  return node
}

/** @param bundlePath `dist/kms.mjs` unless given (the enclave suites also run `dist/kms-test.mjs`). */
export function assertBundleBuilt(bundlePath: string = BUNDLE_PATH): void {
  if (!existsSync(`${ROOT}${bundlePath}`)) throw new Error(`${bundlePath} is missing: run \`npm run build\` first (npm test does)`)
}

/** The variables every test node gets; `overrides` win. */
export function nodeEnvironment(chain: DevChain, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    IN_ENCLAVE: 'false',
    LOG_LEVEL: 'WARN',
    NODE_URL: chain.rpcUrl,
    NOVA_APP_REGISTRY_ADDRESS: chain.addresses.novaAppRegistry,
    KMS_REGISTRY_ADDRESS: chain.addresses.kmsRegistry,
    KMS_APP_ID: String(chain.addresses.kmsAppId),
    ...overrides,
  }
}

async function readStatus(fetcher: (path: string) => Promise<Response>): Promise<NodeStatus> {
  const response = await fetcher('/status')
  return (await response.json()) as NodeStatus
}

/**
 * `dist/kms.mjs` (or another module worker under the repository, such as one function built
 * alone) in Miniflare (workerd), listening on a loopback port so peers can reach it.
 */
export async function startMiniflareNode(chain: DevChain, overrides: Record<string, string> = {}, scriptPath: string = BUNDLE_PATH): Promise<TestNode> {
  if (scriptPath === BUNDLE_PATH) assertBundleBuilt()
  const port = await findFreePort()
  const miniflare = new Miniflare({
    rootPath: ROOT,
    scriptPath,
    modules: true,
    compatibilityDate: '2025-09-01',
    compatibilityFlags: ['nodejs_compat'],
    bindings: nodeEnvironment(chain, overrides),
    host: '127.0.0.1',
    port,
  })
  const url = (await miniflare.ready).toString().replace(/\/$/, '')
  const fetcher = (path: string, init?: RequestInit): Promise<Response> =>
    miniflare.dispatchFetch(`${url}${path}`, init as never) as unknown as Promise<Response>
  return {
    kind: 'miniflare',
    url,
    fetch: fetcher,
    async tick(name) {
      // Miniflare's Fetcher type lacks scheduled(); the runtime object has it.
      const worker = (await miniflare.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<unknown> }
      await worker.scheduled({ cron: name })
    },
    status: () => readStatus(fetcher),
    stop: () => miniflare.dispose(),
  }
}

/**
 * `node dist/kms.mjs` (or `options.bundlePath`, such as the test build `dist/kms-test.mjs`) as
 * a child process on a loopback port; stopped by PID.
 */
export async function startProcessNode(chain: DevChain, overrides: Record<string, string> = {}, options: { bundlePath?: string } = {}): Promise<TestNode> {
  const bundlePath = options.bundlePath ?? BUNDLE_PATH
  assertBundleBuilt(bundlePath)
  return processTestNode(await spawnKmsNode({ env: nodeEnvironment(chain, overrides), cwd: ROOT, bundlePath }))
}

/** A spawned node process (bundle/processes.ts, or the image under `buildah run`) as a `TestNode`. */
export function processTestNode(node: KmsNodeProcess): TestNode {
  const fetcher = (path: string, init?: RequestInit): Promise<Response> => fetch(`${node.url}${path}`, init)
  return {
    kind: 'process',
    pid: node.pid,
    url: node.url,
    fetch: fetcher,
    // A process drives its own ticks from a timer; tests wait for the outcome instead.
    tick: async () => undefined,
    status: () => readStatus(fetcher),
    stop: node.stop,
  }
}

/**
 * Registers `node` as an instance of the KMS app with its own wallet, teePubkey and URL, and
 * funds its wallet so that it can send `setMasterSecretHash`.
 */
export async function registerKmsNode(
  chain: DevChain,
  node: TestNode,
  options: { zkVerified?: boolean; instanceUrl?: string } = {},
): Promise<{ wallet: Wallet; instanceId: number }> {
  const { node: self } = await node.status()
  await chain.fund(self.tee_wallet as Address)
  const instanceId = await chain.registerInstance({
    teeWalletAddress: self.tee_wallet as Address,
    teePubkey: `0x${self.tee_pubkey}` as Hex,
    instanceUrl: options.instanceUrl ?? node.url,
    zkVerified: options.zkVerified ?? true,
  })
  return { wallet: self.tee_wallet, instanceId }
}

/** Ticks until `predicate(status)` holds, a bounded number of times. */
export async function tickUntil(node: TestNode, predicate: (status: NodeStatus) => boolean, options: { attempts?: number; name?: 'node_tick' | 'sync_tick'; delayMs?: number } = {}): Promise<NodeStatus> {
  const attempts = options.attempts ?? 20
  let status = await node.status()
  for (let attempt = 0; attempt < attempts && !predicate(status); attempt++) {
    await node.tick(options.name ?? 'node_tick')
    if (node.kind === 'process' || options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs ?? 500))
    status = await node.status()
  }
  if (!predicate(status)) throw new Error(`condition not reached after ${attempts} ticks: ${JSON.stringify(status.node)}`)
  return status
}

/** A registered test app: its wallet key, its P-384 key, and its registry ids. */
export interface TestApp {
  appId: number
  versionId: number
  instanceId: number
  walletKey: Uint8Array
  wallet: Wallet
  teeKey: P384PrivateKey
  /** `teeKey`'s scalar, for a test that hands the key to another process (an edge worker, an installed package). */
  teeScalar: Uint8Array
  /** An SDK client of this app, talking to `node`. */
  client(node: TestNode, overrides?: { fetch?: typeof fetch }): Promise<KmsClient>
}

let nextAppId = 1000

/** Creates an app, a version and an ACTIVE zkVerified instance for a fresh app wallet. */
export async function registerTestApp(
  chain: DevChain,
  options: { appId?: number; existingApp?: boolean; codeMeasurement?: Hex; zkVerified?: boolean; instanceUrl?: string; teePubkey?: Hex } = {},
): Promise<TestApp> {
  const appId = options.appId ?? nextAppId++
  const versionId = 1
  const walletKey = generateWalletPrivateKey(cryptoRandom)
  const wallet = privateKeyToWallet(walletKey)
  // A scalar below the P-384 order by construction (n starts with 0xff), never zero.
  const teeScalar = cryptoRandom.bytes(48)
  teeScalar[0] = 0x01
  const teeKey = await importP384PrivateKey(teeScalar)
  if (options.existingApp !== true) await registerAppAndVersion(chain, appId, versionId, options.codeMeasurement)
  const instanceId = await chain.registerInstance({
    appId,
    versionId,
    teeWalletAddress: wallet as Address,
    teePubkey: options.teePubkey ?? (`0x${bytesToHex(teeKey.publicKey.der)}` as Hex),
    instanceUrl: options.instanceUrl ?? 'https://app.example.com',
    zkVerified: options.zkVerified ?? true,
  })
  return {
    appId,
    versionId,
    instanceId,
    walletKey,
    wallet,
    teeKey,
    teeScalar,
    client: (node, overrides = {}) => clientFor(node, { walletKey, teeKey, ...overrides }),
  }
}

async function registerAppAndVersion(chain: DevChain, appId: number, versionId: number, codeMeasurement: Hex | undefined): Promise<void> {
  const owner = chain.addresses.owner
  await chain.registerApp({
    appId,
    appOwner: owner,
    dappContract: '0x0000000000000000000000000000000000000000',
    teeArch: `0x${'00'.repeat(32)}`,
    metadataUri: '',
    appWallet: owner,
  })
  await chain.enrollVersion({ appId, versionId, versionName: 'v1', codeMeasurement: codeMeasurement ?? `0x${'00'.repeat(32)}`, imageUri: '' })
}

/** An SDK client for any wallet and P-384 key (registered or not), talking to `node`. */
export async function clientFor(
  node: TestNode,
  keys: { walletKey: Uint8Array; teeKey: P384PrivateKey; fetch?: typeof fetch; bindingVersion?: 1 | 2 },
): Promise<KmsClient> {
  const { node: self } = await node.status()
  return new KmsClient({
    node: { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! },
    walletKey: keys.walletKey,
    teeKey: keys.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    fetch: keys.fetch ?? ((input, init) => node.fetch(String(input).slice(node.url.length), init)),
    ...(keys.bindingVersion === undefined ? {} : { bindingVersion: keys.bindingVersion }),
  })
}

/**
 * The status, code and message of a refused SDK call (fails if the call succeeds). A
 * refusal before authentication is unbound in v2 (PROTOCOL §3.5): the SDK reports it as
 * `unbound_response`, and this returns what the node claimed.
 */
export async function refusal(run: () => Promise<unknown>): Promise<{ status: number; code: string; message: string }> {
  try {
    await run()
  } catch (error) {
    if (error instanceof KmsClientError) {
      if (error.code === 'unbound_response' && error.unverified !== undefined) return error.unverified
      return { status: error.status, code: error.code, message: error.message }
    }
    throw error
  }
  throw new Error('expected the node to refuse')
}
