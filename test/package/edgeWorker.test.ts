/**
 * The SDK runs inside Miniflare (issue 17 item 7): an edge worker that imports the installed
 * `@nova-kms/client` (the packed tarball, installed offline) runs in workerd without
 * `nodejs_compat`, and on each request calls `createNovaKmsClient` against a real KMS node
 * (`node dist/kms.mjs`) on anvil with the real contracts: it reads the registries, verifies
 * the node's attestation against the dev root it is given, derives a key, stores and reads a
 * value, and answers. Everything it needs comes through its bindings.
 */
import { Miniflare } from 'miniflare'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodePem } from '../../core/ca/_pem'
import { createChainReaders } from '../../core/chain'
import { createNovaKmsClient } from '../../core/client'
import { bytesToHex } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { installedWorkerModules, installPackedClient, type InstalledClient } from '../helpers/installedClient'
import { cryptoRandom, registerTestApp, startServingProcessNode, systemClock, type TestApp, type TestNode } from '../helpers/kmsNodes'

/** The worker, as an app would write it against the package (here by relative path: Miniflare loads modules by path). */
const WORKER = `import {
  bytesToHex,
  createChainReaders,
  createNovaKmsClient,
  cryptoRandom,
  importP384PrivateKey,
  loadTrustedRoot,
  NovaKmsError,
  parseHex,
  parseWallet,
  systemClock,
  timerSleep,
  utf8ToBytes,
} from './dist/index.js'

export default {
  async fetch(request, env) {
    const { path, key, value, trustDevRoot } = await request.json()
    // workerd allows no I/O, timers or randomness at the top level: the client is made here.
    const { novaAppRegistry, kmsRegistry } = createChainReaders({
      rpcUrl: env.NOVA_RPC_URL,
      novaAppRegistry: parseWallet(env.NOVA_APP_REGISTRY_ADDRESS),
      kmsRegistry: parseWallet(env.KMS_REGISTRY_ADDRESS),
    })
    const { client, directory } = createNovaKmsClient({
      registry: novaAppRegistry,
      kmsAppId: await kmsRegistry.kmsAppId(),
      appId: Number(env.APP_ID),
      walletKey: parseHex(env.APP_WALLET_KEY),
      teeKey: await importP384PrivateKey(parseHex(env.APP_TEE_KEY)),
      clock: systemClock,
      random: cryptoRandom,
      sleep: timerSleep,
      attestation: trustDevRoot ? { trustedRoot: loadTrustedRoot(env.NOVA_DEV_ROOT_PEM), allowDebugMode: true } : {},
    })
    try {
      const derived = await client.derive({ path, context: 'edge', length: 32 })
      await client.kvPut(key, utf8ToBytes(value))
      const read = await client.kvGet(key)
      return Response.json({
        userAgent: navigator.userAgent,
        verifiedNodes: (await directory.verifiedNodes()).map((node) => node.url),
        wallet: client.wallet,
        derivedKey: bytesToHex(derived),
        value: read.found ? new TextDecoder().decode(read.value) : null,
      })
    } catch (error) {
      if (!(error instanceof NovaKmsError)) throw error
      return Response.json({ code: error.code, message: error.shortMessage }, { status: 503 })
    }
  },
}
`

interface EdgeAnswer {
  userAgent: string
  verifiedNodes: string[]
  wallet: string
  derivedKey: string
  value: string | null
}

let installed: InstalledClient | undefined
let chain: DevChain | undefined
let node: TestNode | undefined
let worker: Miniflare | undefined
let app: TestApp

/** The in-repo SDK (core/client) for the same app, under Node. */
async function inRepoClient() {
  const { novaAppRegistry } = createChainReaders({ rpcUrl: chain!.rpcUrl, novaAppRegistry: chain!.addresses.novaAppRegistry, kmsRegistry: chain!.addresses.kmsRegistry })
  return createNovaKmsClient({
    registry: novaAppRegistry,
    kmsAppId: chain!.addresses.kmsAppId,
    appId: app.appId,
    walletKey: app.walletKey,
    teeKey: app.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
    attestation: { trustedRoot: devRootCertificateDer(), allowDebugMode: true },
  }).client
}

function ask(body: { path: string; key: string; value: string; trustDevRoot: boolean }): Promise<Response> {
  return worker!.dispatchFetch('http://edge.example/', { method: 'POST', body: JSON.stringify(body) }) as unknown as Promise<Response>
}

beforeAll(async () => {
  installed = await installPackedClient()
  chain = await startDevChain()
  node = await startServingProcessNode(chain)
  app = await registerTestApp(chain)
  worker = new Miniflare({
    modulesRoot: installed.installedDir,
    modules: installedWorkerModules(installed.installedDir, WORKER),
    compatibilityDate: '2025-09-01',
    // No compatibilityFlags: without nodejs_compat, a Node built-in anywhere in the package fails to load.
    bindings: {
      NOVA_RPC_URL: chain.rpcUrl,
      NOVA_APP_REGISTRY_ADDRESS: chain.addresses.novaAppRegistry,
      KMS_REGISTRY_ADDRESS: chain.addresses.kmsRegistry,
      APP_ID: String(app.appId),
      APP_WALLET_KEY: bytesToHex(app.walletKey),
      APP_TEE_KEY: bytesToHex(app.teeScalar),
      NOVA_DEV_ROOT_PEM: encodePem('CERTIFICATE', devRootCertificateDer()),
    },
  })
  await worker.ready
}, 300_000)

afterAll(async () => {
  await worker?.dispose()
  await node?.stop()
  await chain?.stop()
  installed?.remove()
})

describe('an edge worker in workerd calls the KMS through the installed package', () => {
  it('behavior: it verifies the node, derives the key the in-repo client derives, and reads back what it stored', async () => {
    const response = await ask({ path: 'edge/signing-key', key: 'edge/greeting', value: 'hello from the edge', trustDevRoot: true })
    expect(response.status).toBe(200)
    const answer = (await response.json()) as EdgeAnswer
    expect(answer.userAgent).toBe('Cloudflare-Workers')
    expect(answer.verifiedNodes).toEqual([node!.url])
    expect(answer.wallet).toBe(app.wallet)
    expect(answer.value).toBe('hello from the edge')

    // The same app, path and context through the in-repo SDK, under Node.
    const client = await inRepoClient()
    const expected = await client.derive({ path: 'edge/signing-key', context: 'edge', length: 32 })
    expect(answer.derivedKey).toMatch(/^[0-9a-f]{64}$/)
    expect(answer.derivedKey).toBe(bytesToHex(expected))
    const stored = await client.kvGet('edge/greeting')
    expect(stored.found && new TextDecoder().decode(stored.value)).toBe('hello from the edge')
    // Another path, another key: the worker derives what it is asked, not a fixed value.
    const other = (await (await ask({ path: 'edge/other-key', key: 'edge/greeting', value: 'again', trustDevRoot: true })).json()) as EdgeAnswer
    expect(other.derivedKey).toBe(bytesToHex(await client.derive({ path: 'edge/other-key', context: 'edge', length: 32 })))
    expect(other.derivedKey).not.toBe(answer.derivedKey)
  })

  it('error: without the dev root the worker trusts only AWS, so the dev node is never verified and nothing is derived', async () => {
    const response = await ask({ path: 'edge/signing-key', key: 'edge/untrusted', value: 'never stored', trustDevRoot: false })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ code: 'nodes_unavailable', message: 'No KMS node answered after 3 rounds' })
    expect(await (await inRepoClient()).kvList()).not.toContain('edge/untrusted')
  })
})
