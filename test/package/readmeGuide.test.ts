/**
 * The README's five-minute guide (issue 17 item 8), run as written: its code blocks between the
 * `five-minute guide` markers are the test's input. The packed tarball is installed into an
 * empty project (the first shell block's steps, checked against the tarball npm made), a
 * 2-node devnet is started with the launcher `npm start` runs, the JavaScript blocks become
 * `app.mjs`, and the other shell blocks run in order in one bash, with only the path of
 * devnet.json put in. What the app prints is then checked against the devnet and the in-repo
 * client: the nodes, the key, the secret, and the certificate that openssl verifies.
 */
import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createChainReaders } from '../../core/chain'
import { createNovaKmsClient } from '../../core/client'
import { importP384PrivateKey } from '../../core/crypto'
import { bytesToHex, parseHex, parseWallet, type Wallet } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevnet, type RunningDevnet } from '../helpers/devnetLauncher'
import { installPackedClient, ROOT, type InstalledClient } from '../helpers/installedClient'
import { cryptoRandom, systemClock } from '../helpers/kmsNodes'
import { sha256 } from '@noble/hashes/sha2.js'

const run = promisify(execFile)
const DEVNET_LINE = 'devnet=../nova-kms/.devnet/devnet.json'

interface GuideBlock {
  language: string
  code: string
}

/** The fenced blocks between the guide's markers, in order. */
function guideBlocks(readme: string): GuideBlock[] {
  const start = readme.indexOf('<!-- five-minute guide: start -->')
  const end = readme.indexOf('<!-- five-minute guide: end -->')
  if (start < 0 || end < start) throw new Error('README has no five-minute guide markers')
  return [...readme.slice(start, end).matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((match) => ({ language: match[1]!, code: match[2]! }))
}

interface DevnetDescription {
  rpcUrl: string
  kmsAppId: number
  contracts: { novaAppRegistry: Wallet; kmsRegistry: Wallet }
  nodes: { url: string }[]
  caFingerprintSha256: string
  apps: { appId: number; wallet: string; walletKey: string; teeScalar: string }[]
}

const blocks = guideBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'))
let installed: InstalledClient | undefined
let devnet: RunningDevnet | undefined
let description: DevnetDescription
/** What `bash` printed running the guide's shell blocks. */
let printed: string

function printedLine(prefix: string): string {
  const line = printed.split('\n').find((candidate) => candidate.startsWith(prefix))
  if (line === undefined) throw new Error(`the guide printed no "${prefix}" line:\n${printed}`)
  return line.slice(prefix.length)
}

beforeAll(async () => {
  installed = await installPackedClient()
  devnet = await startDevnet({ nodes: 2 })
  description = JSON.parse(readFileSync(join(devnet.stateDir, 'devnet.json'), 'utf8')) as DevnetDescription

  const consumer = installed.consumerDir
  writeFileSync(join(consumer, 'app.mjs'), blocks.filter((block) => block.language === 'js').map((block) => block.code).join('\n'))
  const script = blocks
    .filter((block) => block.language === 'sh')
    .slice(1)
    .map((block) => block.code)
    .join('\n')
    .replace(DEVNET_LINE, `devnet=${join(devnet.stateDir, 'devnet.json')}`)
  const { stdout, stderr } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: consumer, timeout: 120_000 }).catch((error: { stdout: string; stderr: string; message: string }) => {
    throw new Error(`the guide failed: ${error.message}\n${error.stdout}\n${error.stderr}`)
  })
  printed = stdout + stderr
}, 400_000)

afterAll(async () => {
  await devnet?.stop()
  installed?.remove()
})

describe("the README's five-minute guide", () => {
  it('behavior: its blocks are the six steps: install, configure, then the app in four parts and the commands that run it', () => {
    expect(blocks.map((block) => block.language)).toEqual(['sh', 'sh', 'js', 'js', 'js', 'js', 'sh'])
    // The shell blocks reach the devnet only through the one line the test points elsewhere.
    expect(blocks.filter((block) => block.code.includes(DEVNET_LINE))).toHaveLength(1)
  })

  it('behavior: step 1 packs and installs exactly the tarball npm makes, offline', () => {
    const [install] = blocks
    expect(install!.code).toContain('npm run build:client && (cd packages/client && npm pack)')
    expect(install!.code).toContain(`npm install --offline ../nova-kms/packages/client/${installed!.tarball.filename}\n`)
    expect(readFileSync(join(ROOT, 'package.json'), 'utf8')).toContain('"build:client"')
  })

  it('behavior: the app discovers both devnet nodes and verifies both by attestation', () => {
    const urls = description.nodes.map((node) => node.url).sort()
    expect(urls).toHaveLength(2)
    expect(printedLine('discovered 2 KMS node(s): ').split(' ')).toEqual(urls)
    expect(printedLine('verified by attestation: ').split(' ')).toEqual(urls)
  })

  it('behavior: the derived key and the stored secret are those the in-repo client reads for app 1000', async () => {
    const app = description.apps[0]!
    expect(app.appId).toBe(1000)
    const { novaAppRegistry } = createChainReaders({ rpcUrl: description.rpcUrl, novaAppRegistry: parseWallet(description.contracts.novaAppRegistry)!, kmsRegistry: parseWallet(description.contracts.kmsRegistry)! })
    const { client } = createNovaKmsClient({
      registry: novaAppRegistry,
      kmsAppId: description.kmsAppId,
      appId: app.appId,
      walletKey: parseHex(app.walletKey)!,
      teeKey: await importP384PrivateKey(parseHex(app.teeScalar)!),
      clock: systemClock,
      random: cryptoRandom,
      sleep: (milliseconds) => new Promise((resolve) => setTimeout(resolve, milliseconds)),
      attestation: { trustedRoot: devRootCertificateDer(), allowDebugMode: true },
    })
    const key = printedLine('derived key: ')
    expect(key).toMatch(/^[0-9a-f]{64}$/)
    expect(key).toBe(bytesToHex(await client.derive({ path: 'guide/signing-key', context: 'v1', length: 32 })))
    expect(printedLine('stored and read back: ')).toBe('s3cret-token')
    const stored = await client.kvGet('guide/api-token')
    expect(stored.found && new TextDecoder().decode(stored.value)).toBe('s3cret-token')
  })

  it("behavior: the certificate verifies against the cluster CA, whose fingerprint is the devnet's, and names app 1000", async () => {
    const consumer = installed!.consumerDir
    expect(printed).toContain('tls.crt: OK')
    const caDer = Buffer.from((await run('openssl', ['x509', '-in', join(consumer, 'kms-ca.pem'), '-outform', 'DER'], { encoding: 'buffer' })).stdout)
    expect(bytesToHex(sha256(caDer))).toBe(description.caFingerprintSha256)
    const { stdout: subject } = await run('openssl', ['x509', '-in', join(consumer, 'tls.crt'), '-noout', '-subject', '-serial'])
    expect(subject).toMatch(/CN\s*=\s*app-1000/)
    expect(subject).not.toContain('my-app')
    expect(subject.toLowerCase()).toContain(`serial=${printedLine('certificate serial: ')}`)
    // The certificate is for the key the guide made: its public key is the CSR's.
    const fromCertificate = (await run('openssl', ['x509', '-in', join(consumer, 'tls.crt'), '-noout', '-pubkey'])).stdout
    const fromKey = (await run('openssl', ['pkey', '-in', join(consumer, 'tls.key'), '-pubout'])).stdout
    expect(fromCertificate).toBe(fromKey)
  })
})
