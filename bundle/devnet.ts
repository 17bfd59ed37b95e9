/**
 * `npm start` (over 400 lines: one launcher a developer reads top to bottom, each step in order).
 *
 * A working Nova KMS on an embedded local chain, with nothing to set up by hand: it builds
 * `dist/` and the contracts, starts anvil, deploys the real contracts with the project's
 * deploy code, starts KMS nodes as `node dist/kms.mjs`, registers them on-chain, waits until
 * they are ready, registers a demo app (and any `--app`), runs an authenticated derive, put
 * and get as the demo app, writes `.devnet/devnet.json`, starts a local runtime API
 * (`dist/nova-runtime.mjs`) per app, and prints a summary. `--help` lists the flags.
 *
 * Everything it starts is stopped by PID on Ctrl-C, SIGTERM or SIGHUP (to this process or
 * to the npm process that `exec`s it), when its launcher exits, and on a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { Address, Hex } from 'viem'
import { startAnvil, type Anvil } from '../contracts/deploy/anvil'
import type { DeployedContracts } from '../contracts/deploy/deploy'
import type { RegistryTarget } from '../contracts/deploy/devRegistry'
import { bytesToHex, parseHex, type Wallet } from '../core/encoding'
import { forEachLine, hasExited, isPortFree, signal, spawnKmsNode, stopProcess, waitUntil } from './processes'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
/** anvil's first default account: the dev chain's deployer and registry owner. */
const OWNER_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const KMS_APP_ID = 49
const DEMO_APP_ID = 1000
const RUNTIME_BUNDLE = 'dist/nova-runtime.mjs'
const READY_TIMEOUT_MS = 90_000
const HEARTBEAT_MS = 5000
/** The same lock test/helpers/devChain.ts takes: two forge builds must not rewrite the same artifacts at once. */
const FORGE_LOCK = `${ROOT}contracts/cache/.vitest-build.lock`

const USAGE = `usage: npm start -- [flags]        (or: npx tsx bundle/devnet.ts [flags])

Starts a local Nova KMS: anvil with the real contracts, KMS nodes (node dist/kms.mjs),
a demo app, and a local runtime API (/v1/*) per app; prints a summary and writes
<state-dir>/devnet.json. Ctrl-C, or SIGTERM/SIGHUP to npm or to this process, stops
everything it started.

  --nodes N               KMS nodes to start (default 3)
  --port-base B           node i (0-based) listens on 127.0.0.1:B+i (default 8000)
  --runtime-port-base R   app i's runtime API listens on R+2i, its Aux API on R+2i+1
                          (default 18000: the demo app, apps[0], at 18000 and 18001)
  --app ID                also register app ID, with a TEE wallet and P-384 key of its
                          own that its runtime API holds (repeatable)
  --page-port P           the "verify a node" browser page listens on 127.0.0.1:P
                          (default 8090)
  --state-dir DIR         where devnet.json and pids.json go (default .devnet)
  --no-build              skip \`npm run build\` (dist/ must be built already)
  --custodians M/N        a recovery policy of N custodians, threshold M (1 ≤ M ≤ N ≤ 16):
                          writes <state-dir>/custodian-<i>.json (devnet-only passphrase in
                          <state-dir>/custodian-passphrase.txt) and dev-root.pem, sets the
                          policy before the nodes start, waits for the backup, and prints the
                          commands to practise a recovery (README "Recovery")
  --exit                  stop everything once the devnet is ready (a smoke test)
  -h, --help              print this help

A port that is taken stops the devnet before it starts anything: it never moves to
another port. Example: npm start -- --nodes 1 --port-base 9000 --app 2000
`

interface Options {
  nodes: number
  portBase: number
  runtimePortBase: number
  extraApps: number[]
  pagePort: number
  stateDir: string
  build: boolean
  exitWhenReady: boolean
  /** `--custodians M/N`; undefined without the flag (no policy, as before). */
  custodians: { threshold: number; count: number } | undefined
}

interface Node {
  index: number
  url: string
  pid: number
  wallet: Wallet
  teePubkey: string
  stop(): Promise<void>
}

interface App {
  appId: number
  label: string
  wallet: Wallet
  walletKey: Uint8Array
  teeScalar: Uint8Array
  runtimeApi: { url: string; auxUrl: string }
}

type RuntimeState = { status: 'running'; pid: number } | { status: 'not built' }

/** A process the devnet started, tracked by PID until it has exited. */
interface Tracked {
  what: 'build' | 'anvil' | 'node' | 'runtime'
  pid: number
  /** Signals go to the process group `pid` leads, not to `pid` alone. */
  group?: boolean
  stop(): Promise<void>
}

/** Kills what `entry` names at once. */
function kill(entry: Tracked): void {
  signal(entry.group === true ? -entry.pid : entry.pid, 'SIGKILL')
}

class UsageError extends Error {}

/**
 * viem, the deploy code, the SDK and the crypto take seconds to load on a busy machine, so
 * they load only once the flags, the pid file and the ports check out, while the builds run:
 * `--help` and a taken port answer at once.
 */
async function loadChainModules() {
  const [viem, clients, deploy, registry, client, crypto, runtime] = await Promise.all([
    import('viem'),
    import('../contracts/deploy/clients'),
    import('../contracts/deploy/deploy'),
    import('../contracts/deploy/devRegistry'),
    import('../core/client'),
    import('../core/crypto'),
    import('./runtime'),
  ])
  return {
    createTestClient: viem.createTestClient,
    http: viem.http,
    parseEther: viem.parseEther,
    connect: clients.connect,
    deployContracts: deploy.deployContracts,
    registerApp: registry.registerApp,
    enrollVersion: registry.enrollVersion,
    registerInstance: registry.registerInstance,
    KmsClient: client.KmsClient,
    generateWalletPrivateKey: crypto.generateWalletPrivateKey,
    importP384PrivateKey: crypto.importP384PrivateKey,
    privateKeyToWallet: crypto.privateKeyToWallet,
    systemClock: runtime.systemClock,
    webCryptoRandom: runtime.webCryptoRandom,
  }
}
type ChainModules = Awaited<ReturnType<typeof loadChainModules>>

/** A path as a developer types it: relative inside the repository, absolute elsewhere. */
function shown(path: string): string {
  const inside = relative(ROOT, path)
  return inside.startsWith('..') || inside === '' ? path : inside
}

function log(message: string): void {
  console.log(`[devnet] ${message}`)
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

/** Runs one step: a line when it starts, a heartbeat while it runs, a line with its duration when it ends. */
async function step<T>(label: string, what: string, run: () => Promise<T>, done: (result: T) => string): Promise<T> {
  const started = performance.now()
  log(`${label}: ${what}…`)
  const heartbeat = setInterval(() => log(`${label}: still working (${seconds(performance.now() - started)})`), HEARTBEAT_MS)
  try {
    const result = await run()
    log(`${label}: ${done(result)} (${seconds(performance.now() - started)})`)
    return result
  } finally {
    clearInterval(heartbeat)
  }
}

function integer(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  const parsed = Number(value)
  if (!/^\d+$/.test(value) || parsed < min || parsed > max) throw new UsageError(`--${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`)
  return parsed
}

function parseCustodians(value: string | undefined): Options['custodians'] {
  if (value === undefined) return undefined
  const match = /^(\d{1,2})\/(\d{1,2})$/.exec(value)
  const threshold = Number(match?.[1])
  const count = Number(match?.[2])
  if (match === null || threshold < 1 || threshold > count || count > 16) throw new UsageError(`--custodians: expected M/N with 1 ≤ M ≤ N ≤ 16, got ${JSON.stringify(value)}`)
  return { threshold, count }
}

/** The devnet's custodian passphrase: public, like every devnet key; never use it elsewhere. */
const DEVNET_CUSTODIAN_PASSPHRASE = 'nova-kms devnet custodian (not a secret)'
/** The devnet's policy timelock: a proposal can be practised in a minute, not a week. */
const DEVNET_POLICY_TIMELOCK_SECONDS = 60
/** The devnet's retire grace (issue 16): `epoch-retire --force` can be practised in 30 s. */
const DEVNET_RETIRE_GRACE_SECONDS = 30

interface Custodian {
  index: number
  keyFile: string
  approver: Wallet
}

/** The dev attestation root (core/tee), PEM. */
async function devRootPem(): Promise<string> {
  const [{ devRootCertificateDer }, { encodePem }] = await Promise.all([import('../core/tee'), import('../core/ca/_pem')])
  return encodePem('CERTIFICATE', devRootCertificateDer())
}

/**
 * Writes N custodian key files (the previous run's, for a chain that is gone, are replaced),
 * the passphrase file and the dev root, and sets the initial policy as the owner, before any
 * node runs (so no node can publish a backup under another policy first).
 */
async function setUpCustodians(options: Options, rpcUrl: string, kmsRegistry: Address): Promise<Custodian[]> {
  const { threshold, count } = options.custodians!
  const [{ encryptKeyFile, generateCustodianKeys }, { webCryptoRandom }, { connect }, { loadArtifact }, { writeAndWait }] = await Promise.all([
    import('./custodian/keyFile'),
    import('./runtime'),
    import('../contracts/deploy/clients'),
    import('../contracts/deploy/artifacts'),
    import('../contracts/deploy/transact'),
  ])
  writeFileSync(`${options.stateDir}/custodian-passphrase.txt`, `${DEVNET_CUSTODIAN_PASSPHRASE}\n`, { mode: 0o600 })
  writeFileSync(`${options.stateDir}/dev-root.pem`, await devRootPem())
  const custodians: Custodian[] = []
  const onChain: { sealingKey: Hex; approver: Address }[] = []
  for (let index = 0; index < count; index++) {
    const keys = await generateCustodianKeys(webCryptoRandom)
    const keyFile = `${options.stateDir}/custodian-${index + 1}.json`
    rmSync(keyFile, { force: true })
    writeFileSync(keyFile, await encryptKeyFile({ keys, passphrase: DEVNET_CUSTODIAN_PASSPHRASE, random: webCryptoRandom }), { mode: 0o600, flag: 'wx' })
    custodians.push({ index, keyFile, approver: keys.approver })
    onChain.push({ sealingKey: `0x${bytesToHex(keys.sealingPublicKeyDer)}`, approver: keys.approver as Address })
  }
  const clients = connect({ rpcUrl, privateKey: OWNER_KEY })
  await writeAndWait(clients, { address: kmsRegistry, abi: loadArtifact('KMSRegistry').abi, functionName: 'setInitialRecoveryPolicy', args: [onChain, threshold] })
  return custodians
}

/** Waits until a node has published the backup for (hash, active policy). */
async function awaitBackup(rpcUrl: string, kmsRegistry: Address): Promise<void> {
  const chain = await import('../core/chain')
  const recovery = chain.createKmsRecoveryReader({ rpc: chain.createRpcClient({ rpcUrl }), address: kmsRegistry.toLowerCase() as Wallet })
  const registry = chain.createChainReaders({ rpcUrl, novaAppRegistry: kmsRegistry.toLowerCase() as Wallet, kmsRegistry: kmsRegistry.toLowerCase() as Wallet }).kmsRegistry
  await waitUntil('a node to publish the backup', async () => {
    const policy = await recovery.activeRecoveryPolicy()
    return policy !== undefined && (await recovery.backup(await registry.masterSecretHash(), policy.policyId)) !== undefined
  }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 500 })
}

function practiceCommands(options: Options, custodians: readonly Custodian[], rpcUrl: string, addresses: DeployedContracts, nodes: readonly Node[]): string {
  const flags = `--rpc ${rpcUrl} --kms-registry ${addresses.kmsRegistry}`
  const passphrase = `--passphrase-file ${shown(`${options.stateDir}/custodian-passphrase.txt`)}`
  const pids = nodes.map((node) => node.pid).join(' ')
  const { threshold, count } = options.custodians!
  const lines = [
    `Recovery practice (${threshold} of ${count} custodians; key files ${shown(`${options.stateDir}/custodian-<i>.json`)}, devnet-only passphrase in ${shown(`${options.stateDir}/custodian-passphrase.txt`)}):`,
    `  1. npx nova-kms custodian status ${flags} --key ${shown(custodians[0]!.keyFile)} ${passphrase}`,
    `  2. kill the nodes: kill ${pids}`,
    `  3. start fresh nodes and register them (README "Add a node"); /status shows "awaiting recovery shares (0/${threshold})"`,
    `  4. ${threshold} custodian(s), each:`,
    ...custodians.slice(0, threshold).map((c) => `     npx nova-kms custodian recover --node <fresh node url> ${flags} --app-registry ${addresses.novaAppRegistry} --root ${shown(`${options.stateDir}/dev-root.pem`)} --key ${shown(c.keyFile)} ${passphrase}`),
  ]
  return lines.join('\n')
}

function parseOptions(argv: readonly string[]): Options | 'help' {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        nodes: { type: 'string' },
        'port-base': { type: 'string' },
        'runtime-port-base': { type: 'string' },
        app: { type: 'string', multiple: true },
        'page-port': { type: 'string' },
        'state-dir': { type: 'string' },
        'no-build': { type: 'boolean' },
        exit: { type: 'boolean' },
        custodians: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  if (values.help === true) return 'help'
  const nodes = integer(values.nodes, 'nodes', 3, 1, 16)
  const extraApps = (values.app ?? []).map((value) => integer(value, 'app', 0, 1, Number.MAX_SAFE_INTEGER))
  for (const [index, appId] of extraApps.entries()) {
    if (appId === KMS_APP_ID || appId === DEMO_APP_ID) throw new UsageError(`--app ${appId}: taken by the ${appId === KMS_APP_ID ? 'KMS app' : 'demo app'}`)
    if (extraApps.indexOf(appId) !== index) throw new UsageError(`--app ${appId}: given twice`)
  }
  return {
    nodes,
    portBase: integer(values['port-base'], 'port-base', 8000, 1024, 65535 - nodes),
    runtimePortBase: integer(values['runtime-port-base'], 'runtime-port-base', 18000, 1024, 65534 - 2 * extraApps.length),
    extraApps,
    pagePort: integer(values['page-port'], 'page-port', 8090, 1024, 65535),
    stateDir: resolve(ROOT, values['state-dir'] ?? '.devnet'),
    build: values['no-build'] !== true,
    exitWhenReady: values.exit === true,
    custodians: parseCustodians(values.custodians),
  }
}

// ---------------------------------------------------------------------------------------
// Process bookkeeping: the pid file, shutdown on signals, a stale run left by a SIGKILL.

const tracked: Tracked[] = []
const launchedAt = new Date().toISOString()
let pidFile: string | undefined
/** Set while this devnet holds FORGE_LOCK: a shutdown mid-build releases it for the test workers waiting on it. */
let forgeLockHeld = false
let stopping = false

function track(entry: Tracked, child?: ChildProcess): void {
  // A spawn that failed has no PID, and signalling "0" would reach our own process group.
  if (!(entry.pid > 0)) return
  tracked.push(entry)
  child?.once('exit', () => {
    const index = tracked.indexOf(entry)
    if (index >= 0) tracked.splice(index, 1)
  })
  writePidFile()
}

function writePidFile(): void {
  if (pidFile === undefined) return
  const children = tracked.map(({ what, pid }) => ({ what, pid }))
  writeFileSync(pidFile, `${JSON.stringify({ launcher: process.pid, startedAt: launchedAt, children }, null, 2)}\n`)
}

function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
  } catch {
    return undefined
  }
}

/**
 * Refuses to start beside a running devnet of the same state dir, and stops what a devnet
 * that was killed (SIGKILL skips every cleanup) left behind: each PID only if its command
 * line is still the one it started.
 */
async function checkPreviousRun(file: string): Promise<void> {
  if (!existsSync(file)) return
  let previous: { launcher: number; children: { what: Tracked['what']; pid: number }[] }
  try {
    previous = JSON.parse(readFileSync(file, 'utf8')) as typeof previous
  } catch {
    return
  }
  const launcher = commandLine(previous.launcher)
  if (launcher?.includes('devnet') === true) {
    throw new UsageError(`a devnet is already running from ${shown(file)} (pid ${previous.launcher}): stop it with \`kill ${previous.launcher}\`, or give this one its own --state-dir and --port-base`)
  }
  const marks = { build: 'forge', anvil: 'anvil', node: 'kms.mjs', runtime: 'nova-runtime' } as const
  const stale = previous.children.filter(({ what, pid }) => commandLine(pid)?.includes(marks[what]) === true)
  for (const { pid } of stale) signal(pid, 'SIGKILL')
  // SIGKILL is delivered asynchronously: their ports are free only once they are gone.
  await waitUntil('the stale processes to exit', () => stale.every(({ pid }) => commandLine(pid) === undefined), { timeoutMs: 10_000, intervalMs: 50 })
  if (stale.length > 0) log(`stopped ${stale.length} process(es) that a previous devnet (pid ${previous.launcher}) left running: ${stale.map(({ what, pid }) => `${what} ${pid}`).join(', ')}`)
}

function describeTracked(): string {
  const count = (what: Tracked['what']): number => tracked.filter((entry) => entry.what === what).length
  const parts = [
    count('runtime') > 0 ? `${count('runtime')} runtime API(s)` : '',
    count('node') > 0 ? `${count('node')} KMS node(s)` : '',
    count('anvil') > 0 ? 'anvil' : '',
    count('build') > 0 ? `${count('build')} build(s)` : '',
  ].filter((part) => part !== '')
  return parts.length === 0 ? 'nothing left to stop' : parts.join(', ')
}

/**
 * Stops the runtimes, then the nodes, then anvil, each by PID; removes the pid file; exits
 * with `code`, or dies of `reraise`. After SIGHUP the terminal is gone, and Node's own exit
 * would abort restoring it (nodejs/node#51519): dying of the signal skips that.
 */
async function shutdown(reason: string, code: number, reraise?: NodeJS.Signals): Promise<void> {
  if (stopping) return
  stopping = true
  const started = performance.now()
  const nothing = tracked.length === 0
  if (!nothing) log(`${reason}: stopping ${describeTracked()}`)
  for (const what of ['build', 'runtime', 'node', 'anvil'] as const) {
    await Promise.all(tracked.filter((entry) => entry.what === what).map((entry) => entry.stop().catch(() => kill(entry))))
  }
  tracked.length = 0
  if (forgeLockHeld) rmSync(FORGE_LOCK, { recursive: true, force: true })
  if (pidFile !== undefined) rmSync(pidFile, { force: true })
  if (!nothing) log(`stopped everything it started in ${seconds(performance.now() - started)}`)
  if (reraise !== undefined) {
    process.removeAllListeners(reraise)
    process.kill(process.pid, reraise)
  }
  process.exit(code)
}

function installShutdownHooks(): void {
  // A closed terminal (SIGHUP) must not turn the goodbye lines into an EPIPE crash.
  process.stdout.on('error', () => undefined)
  process.stderr.on('error', () => undefined)
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(name, () => {
      if (!stopping) return void shutdown(name, 0, name === 'SIGHUP' ? name : undefined)
      log(`${name} again: killing everything now`)
      for (const entry of tracked) kill(entry)
      process.exit(1)
    })
  }
  // The launcher (npm, tsx, a shell) died without passing a signal on: we are orphaned.
  const launcher = process.ppid
  setInterval(() => process.ppid !== launcher && void shutdown(`the launcher (pid ${launcher}) exited`, 0), 500).unref()
  process.on('exit', () => {
    for (const entry of tracked) kill(entry)
  })
}

// ---------------------------------------------------------------------------------------
// Builds

/**
 * Runs a build command, passing each output line to `onLine`; rejects with its output on
 * failure. It runs in a process group of its own, stopped as a group: `npm run build` and
 * `npx forge` are launchers whose children would outlive a signal to the launcher alone.
 */
function run(command: string, args: readonly string[], cwd: string, onLine: (line: string) => void = () => undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    const entry: Tracked = {
      what: 'build',
      pid: child.pid ?? 0,
      group: true,
      async stop() {
        const exited = hasExited(child) ? Promise.resolve() : new Promise((resolveExit) => child.once('exit', resolveExit))
        signal(-entry.pid, 'SIGTERM')
        const timer = setTimeout(() => kill(entry), 2000)
        await exited
        clearTimeout(timer)
      },
    }
    track(entry, child)
    let output = ''
    const collect = (line: string): void => {
      output = `${output}${line}\n`.slice(-4000)
      onLine(line)
    }
    forEachLine(child.stdout, collect)
    forEachLine(child.stderr, collect)
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${command} ${args.join(' ')} failed (${code}):\n${output.trim()}`))))
  })
}

async function buildDist(): Promise<string[]> {
  const built: string[] = []
  await run('npm', ['run', '--silent', 'build'], ROOT, (line) => {
    const artefact = /^(dist\/\S+):/.exec(line)
    if (artefact !== null) built.push(artefact[1]!)
  })
  return built
}

async function buildContracts(): Promise<void> {
  mkdirSync(`${ROOT}contracts/cache`, { recursive: true })
  let waiting = false
  await waitUntil('the forge build lock', () => {
    try {
      mkdirSync(FORGE_LOCK) // atomic: fails while another build holds the lock
      forgeLockHeld = true
      return true
    } catch {
      if (!waiting) log(`contracts: waiting for another forge build to finish (${shown(FORGE_LOCK)})`)
      waiting = true
      const lock = statSync(FORGE_LOCK, { throwIfNoEntry: false })
      if (lock !== undefined && Date.now() - lock.mtimeMs > 180_000) rmSync(FORGE_LOCK, { recursive: true, force: true })
      return false
    }
  }, { timeoutMs: 200_000, intervalMs: 200 })
  try {
    await run('npx', ['--no-install', 'forge', 'build'], `${ROOT}contracts`, (line) => {
      if (/^(Compiling|Solc|Compiler run|No files changed)/.test(line)) log(`contracts: forge: ${line.trim()}`)
    })
  } finally {
    rmSync(FORGE_LOCK, { recursive: true, force: true })
    forgeLockHeld = false
  }
}

// ---------------------------------------------------------------------------------------
// Nodes, apps, runtimes

interface NodeStatus {
  node: { tee_wallet: Wallet; tee_pubkey: string; service_available: boolean; unavailable_reason: string }
  cluster: { total_instances: number }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) })
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`)
  return (await response.json()) as T
}

async function startNodes(options: Options, chain: { rpcUrl: string; addresses: DeployedContracts }): Promise<Node[]> {
  return Promise.all(
    Array.from({ length: options.nodes }, async (_, index): Promise<Node> => {
      const spawned = await spawnKmsNode({
        port: options.portBase + index,
        env: {
          ...process.env,
          IN_ENCLAVE: 'false',
          NODE_URL: chain.rpcUrl,
          NOVA_APP_REGISTRY_ADDRESS: chain.addresses.novaAppRegistry,
          KMS_REGISTRY_ADDRESS: chain.addresses.kmsRegistry,
          KMS_APP_ID: String(KMS_APP_ID),
          // Fast ticks and a short registry cache: the cluster forms in seconds, and what a
          // developer changes with the deploy CLI shows at once, not after 180 s (10 s for
          // "not found", which a node sees for itself until the devnet has registered it).
          KMS_NODE_TICK_SECONDS: '1',
          DATA_SYNC_INTERVAL_SECONDS: '2',
          REGISTRY_CACHE_TTL_SECONDS: '2',
          LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'WARN',
        },
        onSpawn: (child) => track({ what: 'node', pid: child.pid ?? 0, stop: () => stopProcess(child) }, child),
        onOutput: (line) => printNodeLine(`[node ${index + 1}] ${line}`),
      })
      const { node } = await getJson<NodeStatus>(`${spawned.url}/status`)
      return { index, url: spawned.url, pid: spawned.pid, wallet: node.tee_wallet, teePubkey: node.tee_pubkey, stop: spawned.stop }
    }),
  )
}

/**
 * Node log lines are held back while the cluster forms: until every node has the master
 * secret, peers refuse each other (503, bad HMAC) and say so in warnings that mean nothing
 * yet. They are printed if the cluster does not form, and pass through live afterwards (at
 * once when LOG_LEVEL is set).
 */
const nodeOutput = { live: process.env['LOG_LEVEL'] !== undefined, held: [] as string[] }

function printNodeLine(line: string): void {
  if (nodeOutput.live) console.log(line)
  else nodeOutput.held.push(line)
}

/**
 * Waits until every node of `nodes` serves and its peer cache holds them all (so that the
 * cluster console printed at the end has nothing to flag), printing the reasons when they
 * change.
 */
async function awaitReady(nodes: readonly Node[]): Promise<void> {
  let last = ''
  let printedAt = 0
  const isReady = (status: NodeStatus | undefined): boolean => status?.node.service_available === true && status.cluster.total_instances >= nodes.length
  const stateOf = (status: NodeStatus | undefined): string =>
    status === undefined ? 'not answering' : !status.node.service_available ? status.node.unavailable_reason : isReady(status) ? 'ready' : `serving, sees ${status.cluster.total_instances} of ${nodes.length} nodes`
  const describe = (statuses: readonly (NodeStatus | undefined)[]): string => statuses.map((status, index) => `node ${nodes[index]!.index + 1} ${stateOf(status)}`).join(', ')
  try {
    await waitUntil('the nodes to be ready', async () => {
      const statuses = await Promise.all(nodes.map((node) => getJson<NodeStatus>(`${node.url}/status`).catch(() => undefined)))
      const now = describe(statuses)
      const ready = statuses.every(isReady)
      if (!ready && now !== last && performance.now() - printedAt > 1000) {
        log(`readiness: ${now}`)
        printedAt = performance.now()
      }
      last = now
      return ready
    }, { timeoutMs: READY_TIMEOUT_MS, intervalMs: 250 })
  } catch (error) {
    throw new Error(`${error instanceof Error ? error.message : String(error)}; last seen: ${last}`)
  }
}

/** From here on node log lines print live; says how many were held back while the cluster formed. */
function releaseNodeOutput(): void {
  if (nodeOutput.held.length > 0) log(`readiness: held back ${nodeOutput.held.length} node log line(s) written while the cluster formed (peers refuse each other until each has the secret)`)
  nodeOutput.live = true
  nodeOutput.held = []
}

/** Registers an app, its version 1 and one ACTIVE zkVerified instance holding a fresh wallet and P-384 key. */
async function registerDevApp(m: ChainModules, target: RegistryTarget, owner: Address, appId: number, label: string, runtimeApi: App['runtimeApi']): Promise<App> {
  const walletKey = m.generateWalletPrivateKey(m.webCryptoRandom)
  const teeScalar = m.webCryptoRandom.bytes(48)
  const teeKey = await m.importP384PrivateKey(teeScalar)
  const wallet = m.privateKeyToWallet(walletKey)
  const zero = `0x${'00'.repeat(32)}` as const
  await m.registerApp({ ...target, appId, appOwner: owner, dappContract: '0x0000000000000000000000000000000000000000', teeArch: zero, metadataUri: `devnet app ${appId}`, appWallet: owner })
  await m.enrollVersion({ ...target, appId, versionId: 1, versionName: 'v1', codeMeasurement: zero, imageUri: '' })
  await m.registerInstance({ ...target, appId, versionId: 1, operator: owner, instanceUrl: `https://app-${appId}.devnet.local`, teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}`, teeWalletAddress: wallet as Address, zkVerified: true })
  return { appId, label, wallet, walletKey, teeScalar, runtimeApi }
}

/** The demo app's derive, put and get through the SDK, against node 1. */
async function runDemo(m: ChainModules, node: Node, app: App): Promise<void> {
  const client = new m.KmsClient({
    node: { url: node.url, wallet: node.wallet, teePubkeyDer: parseHex(node.teePubkey)! },
    walletKey: app.walletKey,
    teeKey: await m.importP384PrivateKey(app.teeScalar),
    clock: m.systemClock,
    random: m.webCryptoRandom,
  })
  const derived = await client.derive({ path: 'wallet/root' })
  log(`demo: app ${app.appId} (${app.wallet}) derived wallet/root = ${bytesToHex(derived.key)}`)
  await client.putData('greeting', new TextEncoder().encode('hello from the devnet'))
  const read = await client.getData('greeting')
  log(`demo: app ${app.appId} stored and read back: "${new TextDecoder().decode(read.value)}"`)
}

/** The CA fingerprint every node serves (PROTOCOL §8.2: byte-identical across the cluster). */
async function readCaFingerprint(nodes: readonly Node[]): Promise<string> {
  const fingerprints = await Promise.all(nodes.map(async (node) => (await getJson<{ fingerprint_sha256: string }>(`${node.url}/kms/ca`)).fingerprint_sha256))
  const distinct = [...new Set(fingerprints)]
  if (distinct.length > 1) log(`WARNING: the nodes serve different CAs: ${fingerprints.map((fingerprint, index) => `node ${index + 1} ${fingerprint}`).join(', ')}`)
  return distinct.join(' / ')
}

/**
 * The cluster console's table (`nova-kms cluster`, issue 19), exactly as an operator would
 * get it against this devnet, with the command that prints it again.
 */
async function clusterConsole(rpcUrl: string, kmsRegistry: string): Promise<string> {
  const { inspectCluster, renderTable } = await import('./cluster/command')
  const command = `npx nova-kms cluster --rpc-url ${rpcUrl} --kms-registry ${kmsRegistry}`
  try {
    const table = renderTable(await inspectCluster({ rpcUrl, kmsRegistry }))
    return `  cluster console (${command}):\n\n${table.replace(/^(?=.)/gm, '  ')}`
  } catch (error) {
    return `  cluster console: ${error instanceof Error ? error.message : String(error)} (run it again: ${command})\n`
  }
}

/**
 * The "verify a node" page (bundle/verifyPage.ts), in this process, with the devnet's chain,
 * nodes and dev root in its config.json; a line instead when dist/verify/ is not built.
 */
async function serveVerifyPage(port: number, rpcUrl: string, kmsRegistry: string, nodes: readonly Node[]): Promise<string> {
  if (!existsSync(`${ROOT}dist/verify/index.html`)) {
    log('verify page: not built (dist/verify/ is missing: npm run build)')
    return '(not built: dist/verify/)'
  }
  const { devnetPageConfig, startVerifyPage } = await import('./verifyPage')
  const page = await startVerifyPage({ port, config: devnetPageConfig({ rpcUrl, kmsRegistry, nodes }) })
  return `${page.url} (verify a node in your browser; trusts the DEV root)`
}

/** Spawns `node dist/nova-runtime.mjs` for one app and waits for its `nova-runtime app … api … aux …` line. */
async function startRuntime(app: App, index: number, devnetJson: string, port: number): Promise<{ pid: number; url: string; auxUrl: string }> {
  const child = spawn(process.execPath, [RUNTIME_BUNDLE, '--devnet', devnetJson, '--app-id', String(app.appId), '--port', String(port)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track({ what: 'runtime', pid: child.pid ?? 0, stop: () => stopProcess(child) }, child)
  let announced: { url: string; auxUrl: string } | undefined
  let stderr = ''
  const ready = new RegExp(`^nova-runtime app ${app.appId} api (\\S+) aux (\\S+)\\s*$`)
  forEachLine(child.stdout, (line) => {
    const match = ready.exec(line)
    if (match !== null && announced === undefined) announced = { url: match[1]!, auxUrl: match[2]! }
    else console.log(`[runtime ${index}] ${line}`)
  })
  forEachLine(child.stderr, (line) => {
    stderr = `${stderr}${line}\n`.slice(-2000)
    console.log(`[runtime ${index}] ${line}`)
  })
  const urls = await waitUntil(`the runtime API of app ${app.appId} on port ${port}`, () => announced, {
    timeoutMs: 30_000,
    abortIf: () => (hasExited(child) ? `it exited with ${child.exitCode ?? child.signalCode}${stderr === '' ? '' : `: ${stderr.trim()}`}` : undefined),
  }).catch(async (error: unknown) => {
    await stopProcess(child)
    throw error
  })
  return { pid: child.pid!, ...urls }
}

// ---------------------------------------------------------------------------------------
// Output

function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)))
  return rows.map((row) => `  ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('   ').trimEnd()}`).join('\n')
}

function summary(parts: {
  nodes: readonly Node[]
  anvil: Anvil
  chainId: number
  addresses: DeployedContracts
  caFingerprint: string
  apps: readonly App[]
  runtimes: readonly RuntimeState[]
  devnetJson: string
  verifyPage: string
}): string {
  const { nodes, anvil, chainId, addresses, caFingerprint, apps, runtimes, devnetJson, verifyPage } = parts
  const nodeRows = [['node', 'url', 'pid', 'wallet', 'ready'], ...nodes.map((node) => [`${node.index + 1}`, node.url, String(node.pid), node.wallet, 'yes'])]
  const appRows = [
    ['app', 'id', 'wallet', 'runtime API', 'Aux API'],
    ...apps.map((app, index) => {
      const runtime = runtimes[index]!
      return runtime.status === 'running'
        ? [app.label, String(app.appId), app.wallet, app.runtimeApi.url, app.runtimeApi.auxUrl]
        : [app.label, String(app.appId), app.wallet, `(not built: ${RUNTIME_BUNDLE})`, '']
    }),
  ]
  const chainRows = [
    ['chain', `${anvil.rpcUrl} (anvil, chain id ${chainId}, pid ${anvil.pid})`],
    ['NovaAppRegistry', addresses.novaAppRegistry],
    ['KMSRegistry', `${addresses.kmsRegistry} (KMS app id ${KMS_APP_ID})`],
    ['CA SHA-256', caFingerprint],
    ['verify page', verifyPage],
    ['devnet.json', `${shown(devnetJson)} (e.g. jq -r .apps[0].walletKey ${shown(devnetJson)})`],
  ]
  return `\n${table(nodeRows)}\n\n${table(appRows)}\n\n${table(chainRows)}\n`
}

// ---------------------------------------------------------------------------------------

async function main(options: Options): Promise<void> {
  mkdirSync(options.stateDir, { recursive: true })
  const file = `${options.stateDir}/pids.json`
  await checkPreviousRun(file)
  pidFile = file
  writePidFile()

  // Every port, before anything starts: a taken one is reported, never replaced.
  const appCount = 1 + options.extraApps.length
  const wanted = [
    ...Array.from({ length: options.nodes }, (_, index) => ({ port: options.portBase + index, what: `node ${index + 1}: --port-base ${options.portBase} + ${index}` })),
    ...Array.from({ length: appCount }, (_, index) => [
      { port: options.runtimePortBase + 2 * index, what: `apps[${index}]'s runtime API: --runtime-port-base ${options.runtimePortBase} + ${2 * index}` },
      { port: options.runtimePortBase + 2 * index + 1, what: `apps[${index}]'s Aux API: --runtime-port-base ${options.runtimePortBase} + ${2 * index + 1}` },
    ]).flat(),
    { port: options.pagePort, what: 'the verify page: --page-port' },
  ]
  const clash = wanted.find((entry) => entry.port === options.pagePort && !entry.what.startsWith('the verify page'))
  if (clash !== undefined) throw new UsageError(`--page-port ${options.pagePort} is also ${clash.what}: choose another`)
  const taken = (await Promise.all(wanted.map(async (entry) => ((await isPortFree(entry.port)) ? undefined : entry)))).filter((entry) => entry !== undefined)
  if (taken.length > 0) {
    throw new UsageError(
      `${taken.map(({ port, what }) => `port ${port} is taken (${what})`).join('; ')}. Another devnet or server listens there: stop it, or choose other ports with --port-base (nodes), --runtime-port-base (runtime APIs) or --page-port (the verify page)`,
    )
  }

  const modules = loadChainModules()
  modules.catch(() => undefined) // awaited below; a failed build must not make it an unhandled rejection
  const [, , anvil] = await Promise.all([
    options.build ? step('dist', 'npm run build', buildDist, (built) => `built ${built.join(', ')}`) : Promise.resolve(log('dist: not rebuilt (--no-build)')),
    step('contracts', 'forge build (solc-js, offline: ~10 s the first time, cached after)', buildContracts, () => 'built'),
    step('anvil', 'starting the local chain', async () => {
      const started = await startAnvil()
      track({ what: 'anvil', pid: started.pid, stop: started.stop })
      return started
    }, (started) => `${started.rpcUrl}, pid ${started.pid}`),
  ])
  if (!existsSync(`${ROOT}dist/kms.mjs`)) throw new Error('dist/kms.mjs is missing: run `npm run build` (or drop --no-build)')

  const m = await modules
  const addresses = await step('deploy', 'NovaAppRegistry and KMSRegistry', () => m.deployContracts({ rpcUrl: anvil.rpcUrl, privateKey: OWNER_KEY, kmsAppId: KMS_APP_ID, retireGraceSeconds: DEVNET_RETIRE_GRACE_SECONDS, ...(options.custodians === undefined ? {} : { policyTimelockSeconds: DEVNET_POLICY_TIMELOCK_SECONDS }) }), (deployed) => `NovaAppRegistry ${deployed.novaAppRegistry}, KMSRegistry ${deployed.kmsRegistry}`)
  const clients = m.connect({ rpcUrl: anvil.rpcUrl, privateKey: OWNER_KEY })
  const chainId = await clients.publicClient.getChainId()
  const target: RegistryTarget = { clients, novaAppRegistry: addresses.novaAppRegistry }
  const testClient = m.createTestClient({ mode: 'anvil', transport: m.http(anvil.rpcUrl) })

  const custodians = options.custodians === undefined
    ? undefined
    : await step('custodians', `${options.custodians.count} key files and a ${options.custodians.threshold}-of-${options.custodians.count} initial recovery policy (timelock ${DEVNET_POLICY_TIMELOCK_SECONDS} s)`, () => setUpCustodians(options, anvil.rpcUrl, addresses.kmsRegistry), (made) => `policy set; approvers ${made.map((c) => c.approver).join(', ')}`)
  const last = options.portBase + options.nodes - 1
  const nodes = await step('nodes', `starting ${options.nodes} × node dist/kms.mjs on 127.0.0.1:${options.portBase}${last === options.portBase ? '' : `–${last}`}`, () => startNodes(options, { rpcUrl: anvil.rpcUrl, addresses }), (started) => `${started.length} answering /health`)
  const registerNodes = async (joining: readonly Node[]): Promise<void> => {
    for (const node of joining) {
      // The node's wallet pays for its own setMasterSecretHash transaction.
      await testClient.setBalance({ address: node.wallet as Address, value: m.parseEther('10') })
      await m.registerInstance({ ...target, appId: KMS_APP_ID, versionId: 1, operator: addresses.owner, instanceUrl: node.url, teePubkey: `0x${node.teePubkey}`, teeWalletAddress: node.wallet as Address, zkVerified: true })
      log(`nodes: node ${node.index + 1} ${node.url} wallet ${node.wallet}`)
    }
  }
  // Node 1 first, alone: it generates the master secret and commits its hash. The others
  // then join as the runbook's "Add a node" does, taking the secret from it, instead of all
  // racing to commit a hash of their own (the contract takes the first; the rest retry).
  const [first, ...others] = nodes
  await step('nodes', 'funding node 1 and registering it as a KMS instance', () => registerNodes([first!]), () => 'registered')
  await step('readiness', 'node 1 generates the master secret and commits its hash on-chain', () => awaitReady([first!]), () => (others.length === 0 ? '1 node(s) ready' : 'node 1 ready'))
  if (others.length > 0) {
    const rest = others.length === 1 ? 'node 2' : `nodes 2–${nodes.length}`
    await step('nodes', `funding ${rest} and registering them`, () => registerNodes(others), () => 'registered')
    await step('readiness', `${rest} take the secret from node 1`, () => awaitReady(nodes), () => `${nodes.length} node(s) ready`)
  }
  if (custodians !== undefined) await step('custodians', 'waiting for a node to publish the backup', () => awaitBackup(anvil.rpcUrl, addresses.kmsRegistry), () => 'backup published')
  releaseNodeOutput()

  const runtimeApi = (index: number): App['runtimeApi'] => ({
    url: `http://127.0.0.1:${options.runtimePortBase + 2 * index}`,
    auxUrl: `http://127.0.0.1:${options.runtimePortBase + 2 * index + 1}`,
  })
  const apps = await step('apps', `registering ${[DEMO_APP_ID, ...options.extraApps].join(', ')}`, async () => {
    const registered = [await registerDevApp(m, target, addresses.owner, DEMO_APP_ID, 'apps[0] (demo)', runtimeApi(0))]
    for (const [index, appId] of options.extraApps.entries()) registered.push(await registerDevApp(m, target, addresses.owner, appId, `apps[${index + 1}]`, runtimeApi(index + 1)))
    return registered
  }, (registered) => `registered ${registered.map((app) => `${app.appId} (${app.wallet})`).join(', ')}`)
  const demo = apps[0]!
  await step('demo', `derive, put and get as app ${DEMO_APP_ID} through the SDK`, () => runDemo(m, nodes[0]!, demo), () => 'done')
  const caFingerprint = await readCaFingerprint(nodes)

  const devnetJson = `${options.stateDir}/devnet.json`
  const hex = (bytes: Uint8Array): string => bytesToHex(bytes)
  const description = {
    rpcUrl: anvil.rpcUrl,
    chainId,
    kmsAppId: KMS_APP_ID,
    contracts: addresses,
    nodes: nodes.map(({ url, wallet, teePubkey }) => ({ url, wallet, teePubkey })),
    caFingerprintSha256: caFingerprint,
    // Kept for compatibility: apps[0] holds the same, and more.
    demoApp: { appId: demo.appId, wallet: demo.wallet, walletKey: hex(demo.walletKey), teeScalar: hex(demo.teeScalar) },
    apps: apps.map((app) => ({ appId: app.appId, wallet: app.wallet, walletKey: hex(app.walletKey), teeScalar: hex(app.teeScalar), runtimeApi: app.runtimeApi })),
    // The root the dev nodes' attestation documents chain to, which an SDK client must be
    // given explicitly (it trusts only AWS otherwise): the README's five-minute guide reads it.
    devRootPem: await devRootPem(),
  }
  // Written whole, then renamed: a runtime reading it never sees half a file.
  writeFileSync(`${devnetJson}.tmp`, `${JSON.stringify(description, null, 2)}\n`)
  renameSync(`${devnetJson}.tmp`, devnetJson)
  log(`wrote ${shown(devnetJson)} (URLs, addresses, every app's keys)`)

  let runtimes: RuntimeState[]
  if (existsSync(`${ROOT}${RUNTIME_BUNDLE}`)) {
    runtimes = await step('runtime', `starting ${apps.length} local runtime API(s) (node ${RUNTIME_BUNDLE})`, () =>
      Promise.all(apps.map(async (app, index): Promise<RuntimeState> => {
        const started = await startRuntime(app, index, devnetJson, options.runtimePortBase + 2 * index)
        if (started.url !== app.runtimeApi.url || started.auxUrl !== app.runtimeApi.auxUrl) log(`WARNING: app ${app.appId}'s runtime announced ${started.url} / ${started.auxUrl}, not ${app.runtimeApi.url} / ${app.runtimeApi.auxUrl}`)
        app.runtimeApi = { url: started.url, auxUrl: started.auxUrl }
        return { status: 'running', pid: started.pid }
      })),
    (started) => `${started.length} answering`)
  } else {
    log(`runtime: the local runtime API is not built (${RUNTIME_BUNDLE} is missing), so apps get no /v1 API; the KMS nodes work without it`)
    runtimes = apps.map(() => ({ status: 'not built' }))
  }

  const verifyPage = await serveVerifyPage(options.pagePort, anvil.rpcUrl, addresses.kmsRegistry, nodes)

  log(`ready in ${seconds(performance.now())}`) // since this process started
  console.log(summary({ nodes, anvil, chainId, addresses, caFingerprint, apps, runtimes, devnetJson, verifyPage }))
  if (custodians !== undefined) console.log(`${practiceCommands(options, custodians, anvil.rpcUrl, addresses, nodes)}\n`)
  console.log(await clusterConsole(anvil.rpcUrl, addresses.kmsRegistry))
  if (options.exitWhenReady) return shutdown('--exit', 0)
  log(`running (pid ${process.pid}): Ctrl-C, or \`kill ${process.pid}\`, stops everything`)
}

function start(): void {
  let options: Options | 'help'
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (error) {
    console.error(`[devnet] ${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`)
    process.exit(2)
  }
  if (options === 'help') {
    process.stdout.write(USAGE)
    return
  }
  installShutdownHooks()
  main(options).catch((error: unknown) => {
    for (const line of nodeOutput.held.splice(0)) console.log(line)
    console.error(`[devnet] FAILED: ${error instanceof Error ? error.message : String(error)}`)
    void shutdown('failed', 1)
  })
}

start()
