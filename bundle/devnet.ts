/**
 * `npm start`: a working Nova KMS on an embedded local chain, with nothing to set up by hand.
 * It starts anvil, deploys the real contracts with the project's deploy script, starts KMS
 * nodes as `node dist/kms.mjs`, registers them on-chain, waits until they are ready, then
 * registers a demo app and runs an authenticated derive, put and get as that app.
 *
 * Flags: `--nodes N` (default 1), `--exit` (stop after the demo: used by the tests).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { createTestClient, http, parseEther, type Address, type Hex } from 'viem'
import { startAnvil } from '../contracts/deploy/anvil'
import { connect } from '../contracts/deploy/clients'
import { deployContracts } from '../contracts/deploy/deploy'
import { enrollVersion, registerApp, registerInstance } from '../contracts/deploy/devRegistry'
import { KmsClient } from '../core/client'
import { generateWalletPrivateKey, importP384PrivateKey, privateKeyToWallet } from '../core/crypto'
import { bytesToHex, parseHex, type Wallet } from '../core/encoding'
import { systemClock, webCryptoRandom } from './runtime'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
/** anvil's first default account: the dev chain's deployer and registry owner. */
const OWNER_KEY: Hex = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'
const KMS_APP_ID = 49
const DEMO_APP_ID = 1000
const READY_TIMEOUT_MS = 90_000

interface RunningNode {
  url: string
  child: ChildProcess
  wallet: Wallet
  teePubkey: string
}

function log(message: string): void {
  console.log(`[devnet] ${message}`)
}

async function portOrFree(preferred: number): Promise<number> {
  const tryListen = (port: number): Promise<number | undefined> =>
    new Promise((resolve) => {
      const server = createServer()
      server.once('error', () => resolve(undefined))
      server.listen(port, '127.0.0.1', () => {
        const address = server.address()
        const bound = typeof address === 'object' && address !== null ? address.port : undefined
        server.close(() => resolve(bound))
      })
    })
  return (await tryListen(preferred)) ?? (await tryListen(0)) ?? preferred
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url)
  return (await response.json()) as T
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const nodeCount = Math.max(1, Number(args[args.indexOf('--nodes') + 1] ?? 1) || 1)
  const exitAfterDemo = args.includes('--exit')
  const children: ChildProcess[] = []
  let stopChain: () => Promise<void> = async () => undefined
  const shutdown = async (code: number): Promise<never> => {
    for (const child of children) child.kill('SIGTERM')
    await stopChain()
    process.exit(code)
  }
  process.on('SIGINT', () => void shutdown(0))
  process.on('SIGTERM', () => void shutdown(0))

  try {
    log('building the contracts (forge, offline)')
    execFileSync('npx', ['forge', 'build'], { cwd: `${ROOT}contracts`, stdio: 'ignore' })
    const anvil = await startAnvil()
    stopChain = anvil.stop
    log(`anvil listening on ${anvil.rpcUrl}`)
    const addresses = await deployContracts({ rpcUrl: anvil.rpcUrl, privateKey: OWNER_KEY, kmsAppId: KMS_APP_ID })
    log(`NovaAppRegistry ${addresses.novaAppRegistry}, KMSRegistry ${addresses.kmsRegistry}`)
    const clients = connect({ rpcUrl: anvil.rpcUrl, privateKey: OWNER_KEY })
    const target = { clients, novaAppRegistry: addresses.novaAppRegistry }
    const testClient = createTestClient({ mode: 'anvil', transport: http(anvil.rpcUrl) })

    const nodes: RunningNode[] = []
    for (let index = 0; index < nodeCount; index++) {
      const port = await portOrFree(8000 + index)
      const child = spawn(process.execPath, ['dist/kms.mjs'], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: {
          ...process.env,
          IN_ENCLAVE: 'false',
          BIND_ADDR: `127.0.0.1:${port}`,
          NODE_URL: anvil.rpcUrl,
          NOVA_APP_REGISTRY_ADDRESS: addresses.novaAppRegistry,
          KMS_REGISTRY_ADDRESS: addresses.kmsRegistry,
          KMS_APP_ID: String(KMS_APP_ID),
          KMS_NODE_TICK_SECONDS: '2',
          DATA_SYNC_INTERVAL_SECONDS: '2',
          LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'WARN',
        },
      })
      children.push(child)
      const url = `http://127.0.0.1:${port}`
      await waitFor(`${url}/health`, async () => (await fetch(`${url}/health`)).ok)
      const status = await getJson<{ node: { tee_wallet: Wallet; tee_pubkey: string } }>(`${url}/status`)
      // The node's wallet pays for its own setMasterSecretHash transaction.
      await testClient.setBalance({ address: status.node.tee_wallet as Address, value: parseEther('10') })
      await registerInstance({
        ...target,
        appId: KMS_APP_ID,
        versionId: 1,
        operator: addresses.owner,
        instanceUrl: url,
        teePubkey: `0x${status.node.tee_pubkey}`,
        teeWalletAddress: status.node.tee_wallet as Address,
        zkVerified: true,
      })
      nodes.push({ url, child, wallet: status.node.tee_wallet, teePubkey: status.node.tee_pubkey })
      log(`node ${index + 1}: ${url} wallet ${status.node.tee_wallet}`)
    }
    for (const node of nodes) {
      await waitFor(`${node.url} to be ready`, async () => (await getJson<{ node: { service_available: boolean } }>(`${node.url}/status`)).node.service_available)
    }
    log(`${nodes.length} node(s) ready`)

    // A demo app, registered like any Nova app: its wallet and its P-384 teePubkey.
    const walletKey = generateWalletPrivateKey(webCryptoRandom)
    const teeScalar = webCryptoRandom.bytes(48)
    const teeKey = await importP384PrivateKey(teeScalar)
    const appWallet = privateKeyToWallet(walletKey)
    await registerApp({ ...target, appId: DEMO_APP_ID, appOwner: addresses.owner, dappContract: '0x0000000000000000000000000000000000000000', teeArch: `0x${'00'.repeat(32)}`, metadataUri: 'devnet demo', appWallet: addresses.owner })
    await enrollVersion({ ...target, appId: DEMO_APP_ID, versionId: 1, versionName: 'demo', codeMeasurement: `0x${'00'.repeat(32)}`, imageUri: '' })
    await registerInstance({ ...target, appId: DEMO_APP_ID, versionId: 1, operator: addresses.owner, instanceUrl: 'https://demo.app.local', teePubkey: `0x${bytesToHex(teeKey.publicKey.der)}`, teeWalletAddress: appWallet as Address, zkVerified: true })
    const first = nodes[0]!
    const client = new KmsClient({
      node: { url: first.url, wallet: first.wallet, teePubkeyDer: parseHex(first.teePubkey)! },
      walletKey,
      teeKey,
      clock: systemClock,
      random: webCryptoRandom,
    })
    const derived = await client.derive({ path: 'wallet/root' })
    await client.putData('greeting', new TextEncoder().encode('hello from the devnet'))
    const read = await client.getData('greeting')
    log(`demo app ${DEMO_APP_ID} (${appWallet}) derived wallet/root = ${bytesToHex(derived.key)}`)
    log(`demo app stored and read back: "${new TextDecoder().decode(read.value)}"`)

    mkdirSync(`${ROOT}.devnet`, { recursive: true })
    const summary = {
      rpcUrl: anvil.rpcUrl,
      contracts: addresses,
      nodes: nodes.map(({ url, wallet, teePubkey }) => ({ url, wallet, teePubkey })),
      demoApp: { appId: DEMO_APP_ID, wallet: appWallet, walletKey: bytesToHex(walletKey), teeScalar: bytesToHex(teeScalar) },
    }
    writeFileSync(`${ROOT}.devnet/devnet.json`, JSON.stringify(summary, null, 2))
    log('wrote .devnet/devnet.json (URLs, addresses, the demo app keys)')
    if (exitAfterDemo) await shutdown(0)
    log('running; press Ctrl-C to stop everything')
  } catch (error) {
    console.error(`[devnet] failed: ${error instanceof Error ? error.message : String(error)}`)
    await shutdown(1)
  }
}

void main()
