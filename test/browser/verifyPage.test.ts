/**
 * The "verify a KMS node" page (issue 17, web/verify) in a real browser, against a real
 * cluster: anvil with the real contracts, KMS nodes as `node dist/kms.mjs`, and the page
 * (dist/verify/) served by the same module the devnet uses (bundle/verifyPage.ts) with the
 * devnet's config.json. Headless Debian chromium is driven over the DevTools protocol: the
 * test types a node URL, presses the button and reads the verdict and the registry rows
 * back from the page's `data-testid` elements.
 *
 * - node A is registered as the KMS app's version 1 instance (the dev measurement): VALID,
 *   every comparison matching, the CA fingerprint of its `/kms/ca`, the DEV root named;
 * - node B is registered with its own wallet and key, but under a version 2 whose
 *   codeMeasurement is not what its documents measure: REJECTED, measurement mismatch;
 * - node A's document pasted: VALID, with the nonce reported as not checked;
 * - node A with the dev root unticked (AWS trust): REJECTED by the verifier.
 *
 * Screenshots go to .artifacts/ (gitignored). chromium is required, never skipped: install
 * it with `apt-get install -y --no-install-recommends chromium`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { sha256 } from '@noble/hashes/sha2.js'
import { WebSocket } from 'undici'
import type { Address } from 'viem'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { CHROMIUM, CHROMIUM_EXIT_TIMEOUT_MS, stopChromium, withTimeout } from '../helpers/chromium'
import { devnetPageConfig, startVerifyPage, type VerifyPage } from '../../bundle/verifyPage'
import { waitUntil } from '../../bundle/processes'
import { bytesToBase64, bytesToHex } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { DEV_CODE_MEASUREMENT } from '../helpers/devMeasurement'
import { registerKmsNode, startProcessNode, tickUntil, type TestNode } from '../helpers/kmsNodes'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ARTIFACTS = join(ROOT, '.artifacts')
const SETUP_TIMEOUT_MS = 240_000
const VIEWPORT = { width: 1100, height: 900 }
/** What version 2 claims the code measures: not what any dev document measures. */
const WRONG_MEASUREMENT = `0x${'5a'.repeat(32)}` as const

/** What the page shows, as the test reads it back. */
interface PageView {
  verdict: string
  heading: string
  trust: string
  trustKind: string
  reasons: string[]
  checks: Record<string, { result: string; registry: string; document: string }>
  fields: Record<string, string>
  registryState: string
}

// ---------------------------------------------------------------------------------------
// A minimal DevTools protocol client: one page target, request/response by id.

class DevTools {
  readonly #socket: WebSocket
  readonly #pending = new Map<number, { resolve: (value: Record<string, unknown>) => void; reject: (error: Error) => void }>()
  #nextId = 1

  private constructor(socket: WebSocket) {
    this.#socket = socket
    socket.addEventListener('message', (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } }
      const waiter = message.id === undefined ? undefined : this.#pending.get(message.id)
      if (waiter === undefined) return
      this.#pending.delete(message.id!)
      if (message.error !== undefined) waiter.reject(new Error(message.error.message))
      else waiter.resolve(message.result ?? {})
    })
    socket.addEventListener('close', () => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error('DevTools connection closed'))
      this.#pending.clear()
    })
  }

  static async connect(url: string): Promise<DevTools> {
    const socket = new WebSocket(url)
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.addEventListener('open', () => resolve())
        socket.addEventListener('error', () => reject(new Error(`cannot connect to ${url}`)))
      }),
      CHROMIUM_EXIT_TIMEOUT_MS,
      'the DevTools connection',
    )
    return new DevTools(socket)
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#nextId++
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => this.#pending.set(id, { resolve, reject }))
    this.#socket.send(JSON.stringify({ id, method, params }))
    return withTimeout(answer, 30_000, method)
  }

  /** Evaluates `expression` in the page and returns its (JSON) value. */
  async evaluate<T>(expression: string): Promise<T> {
    const result = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })
    if (result['exceptionDetails'] !== undefined) throw new Error(`page exception: ${JSON.stringify(result['exceptionDetails'])}`)
    return (result['result'] as { value: T }).value
  }

  close(): void {
    this.#socket.close()
  }
}




/** Starts headless chromium with a DevTools port of its choosing and connects to its blank page. */
async function launchChromium(profile: string): Promise<{ child: ChildProcess; devtools: DevTools }> {
  const child = spawn(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      'about:blank',
    ],
    { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
  )
  cleanups.push(() => stopChromium(child))
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-8000)))
  const browserUrl = await waitUntil('chromium to announce its DevTools port', () => /DevTools listening on (ws:\/\/127\.0\.0\.1:\d+)\//.exec(stderr)?.[1], {
    timeoutMs: 60_000,
    intervalMs: 100,
    abortIf: () => (child.exitCode !== null || child.signalCode !== null ? `chromium exited: ${stderr.slice(-2000)}` : undefined),
  })
  const listUrl = `${browserUrl.replace('ws://', 'http://')}/json/list`
  const pageTarget = await waitUntil('the blank page target', async () => {
    const targets = (await (await fetch(listUrl)).json()) as { type: string; webSocketDebuggerUrl: string }[]
    return targets.find((target) => target.type === 'page')?.webSocketDebuggerUrl
  }, { timeoutMs: 30_000, intervalMs: 200 })
  const devtools = await DevTools.connect(pageTarget)
  cleanups.push(() => devtools.close())
  await devtools.send('Page.enable')
  await devtools.send('Runtime.enable')
  await devtools.send('Emulation.setDeviceMetricsOverride', { ...VIEWPORT, deviceScaleFactor: 1, mobile: false })
  return { child, devtools }
}

// ---------------------------------------------------------------------------------------
// The page, as a person uses it.

async function openPage(devtools: DevTools, url: string): Promise<void> {
  await devtools.send('Page.navigate', { url })
  await waitUntil('the page to load its config', () => devtools.evaluate<boolean>("document.body?.dataset.ready === 'true'"), { timeoutMs: 30_000, intervalMs: 100 })
}

/** Fills a field as typing would (value, then an input event). */
async function fill(devtools: DevTools, testid: string, value: string): Promise<void> {
  await devtools.evaluate(`(() => { const field = document.querySelector('[data-testid=${testid}]'); field.focus(); field.value = ${JSON.stringify(value)}; field.dispatchEvent(new Event('input', { bubbles: true })) })()`)
}

async function click(devtools: DevTools, testid: string): Promise<void> {
  await devtools.evaluate(`document.querySelector('[data-testid=${testid}]').click()`)
}

/** Waits for a verdict other than "verifying…" and reads the page back. */
async function readVerdict(devtools: DevTools): Promise<PageView> {
  await waitUntil(
    'the page to show a verdict',
    () => devtools.evaluate<boolean>("['VALID', 'REJECTED', 'INCOMPLETE', 'ERROR'].includes(document.querySelector('[data-testid=verdict-box]').dataset.verdict)"),
    { timeoutMs: 60_000, intervalMs: 200 },
  )
  return devtools.evaluate<PageView>(`(() => {
    const text = (selector) => document.querySelector(selector)?.textContent ?? ''
    const checks = {}
    for (const row of document.querySelectorAll('[data-testid=registry-checks] tbody tr')) {
      const cells = row.querySelectorAll('td')
      checks[row.dataset.testid.replace(/^check-/, '')] = { result: row.dataset.result, registry: cells[0].textContent, document: cells[1].textContent }
    }
    const fields = {}
    for (const row of document.querySelectorAll('[data-testid=document-fields] tr[data-testid], [data-testid=node-facts] tr[data-testid]')) fields[row.dataset.testid] = row.querySelector('td').textContent
    const trust = document.querySelector('[data-testid=trust-root]')
    return {
      verdict: document.querySelector('[data-testid=verdict-box]').dataset.verdict,
      heading: text('[data-testid=verdict]'),
      trust: trust.textContent,
      trustKind: trust.dataset.trust,
      reasons: [...document.querySelectorAll('[data-testid=verdict-reasons] li')].map((li) => li.textContent),
      checks,
      fields,
      registryState: text('[data-testid=registry-state]'),
    }
  })()`)
}

async function screenshot(devtools: DevTools, name: string): Promise<void> {
  const metrics = await devtools.send('Page.getLayoutMetrics')
  const content = metrics['cssContentSize'] as { width: number; height: number }
  const shot = await devtools.send('Page.captureScreenshot', {
    format: 'png',
    captureBeyondViewport: true,
    clip: { x: 0, y: 0, width: VIEWPORT.width, height: Math.ceil(Math.max(content.height, VIEWPORT.height)), scale: 1 },
  })
  mkdirSync(ARTIFACTS, { recursive: true })
  const png = Buffer.from(shot['data'] as string, 'base64')
  expect(png.subarray(1, 4).toString('latin1')).toBe('PNG')
  writeFileSync(join(ARTIFACTS, name), png)
}

// ---------------------------------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
}, 60_000)

let chain: DevChain
let nodeA: TestNode
let nodeB: TestNode
let walletA: string
let walletB: string
let teePubkeyA: string
let page: VerifyPage
let devtools: DevTools

/** The checks that decide the verdict; `instance-url` is informative. */
const DECIDING = ['registered', 'wallet', 'tee-pubkey', 'code-measurement', 'app', 'instance-status', 'zk-verified', 'version-status', 'peer-check']

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y --no-install-recommends chromium\``)
  const dir = mkdtempSync(join(tmpdir(), 'nova-verify-page-'))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))

  chain = await startDevChain()
  cleanups.push(() => chain.stop())
  nodeA = await startProcessNode(chain, { KMS_NODE_TICK_SECONDS: '1' })
  cleanups.push(() => nodeA.stop())
  walletA = (await registerKmsNode(chain, nodeA)).wallet
  const ready = await tickUntil(nodeA, (status) => status.node.service_available, { attempts: 60, delayMs: 500 })
  teePubkeyA = ready.node.tee_pubkey

  // Node B: its own wallet and key, registered truthfully, but as version 2 of the KMS app,
  // whose enrolled measurement is not what B's documents measure.
  nodeB = await startProcessNode(chain, { KMS_NODE_TICK_SECONDS: '1' })
  cleanups.push(() => nodeB.stop())
  await chain.enrollVersion({ appId: chain.addresses.kmsAppId, versionId: 2, versionName: 'v2 (wrong measurement)', codeMeasurement: WRONG_MEASUREMENT, imageUri: '' })
  const statusB = await nodeB.status()
  walletB = statusB.node.tee_wallet
  await chain.registerInstance({ teeWalletAddress: walletB as Address, teePubkey: `0x${statusB.node.tee_pubkey}`, instanceUrl: nodeB.url, versionId: 2 })

  page = await startVerifyPage({
    port: 0,
    // The config the devnet serves: its chain, its nodes and the dev root.
    config: devnetPageConfig({ rpcUrl: chain.rpcUrl, kmsRegistry: chain.addresses.kmsRegistry, nodes: [{ url: nodeA.url, wallet: walletA }] }),
  })
  cleanups.push(() => page.close())
  ;({ devtools } = await launchChromium(join(dir, 'profile')))
}, SETUP_TIMEOUT_MS)

describe('the verify page in chromium', () => {
  test('behavior: a registered node verifies VALID against the DEV root, every registry comparison matching, with its CA fingerprint', async () => {
    await openPage(devtools, page.url)
    // config.json filled the settings and offered node A.
    expect(await devtools.evaluate<string>("document.querySelector('[data-testid=rpc-url]').value")).toBe(chain.rpcUrl)
    expect(await devtools.evaluate<boolean>("document.querySelector('[data-testid=use-dev-root]').checked")).toBe(true)
    await fill(devtools, 'node-url', `${nodeA.url}/`)
    await click(devtools, 'verify-url')
    const view = await readVerdict(devtools)
    await screenshot(devtools, 'verify-page.png')

    expect(view.reasons).toEqual([])
    expect(view.verdict).toBe('VALID')
    expect(view.heading).toMatch(/^VALID/)
    expect(view.trustKind).toBe('dev')
    expect(view.trust).toContain('Verified against the DEV root (not AWS)')
    expect(view.trust).toContain(`SHA-256 ${bytesToHex(sha256(devRootCertificateDer()))}`)
    for (const id of DECIDING) expect(view.checks[id]?.result, id).toBe('match')
    expect(view.checks['instance-url']).toEqual({ result: 'match', registry: nodeA.url, document: nodeA.url })
    expect(view.checks['wallet']).toEqual({ result: 'match', registry: walletA, document: walletA })
    expect(view.checks['tee-pubkey']?.registry).toBe(`0x${teePubkeyA}`)
    expect(view.checks['code-measurement']).toEqual({ result: 'match', registry: `0x${bytesToHex(DEV_CODE_MEASUREMENT)}`, document: `0x${bytesToHex(DEV_CODE_MEASUREMENT)}` })
    expect(view.checks['peer-check']?.document).toBe('passed')
    expect(view.registryState).toContain(chain.addresses.kmsRegistry.toLowerCase())
    expect(view.registryState).toContain(chain.addresses.novaAppRegistry.toLowerCase())

    // The decoded fields.
    expect(view.fields['attestation-result']).toBe('valid')
    expect(view.fields['field-module_id']).not.toBe('')
    expect(view.fields['field-digest']).toBe('SHA384')
    for (const pcr of ['field-pcr0', 'field-pcr1', 'field-pcr2', 'field-pcr8']) expect(view.fields[pcr]).toBe('00'.repeat(48))
    expect(view.fields['field-pcr-zero']).toMatch(/^PCR3, .*: all zero$/)
    expect(view.fields['field-eth_addr']).toBe(walletA)
    expect(view.fields['field-user_data']).toContain(walletA)
    expect(view.fields['field-nonce']).toMatch(/^32 bytes: [0-9a-f]{64}; the page sent \S+ \(base64\)$/)
    expect(view.fields['field-certificate']).toMatch(/^CN=.*; issued by .*; valid \d{4}-.* to \d{4}-/)
    // The node's CA, as `GET /kms/ca` gives it to anyone.
    const ca = (await (await nodeA.fetch('/kms/ca')).json()) as { fingerprint_sha256: string }
    expect(view.fields['ca-fingerprint']).toBe(ca.fingerprint_sha256)
    expect(view.fields['node-status']).toMatch(/^serving; mode dev;/)
  })

  test('behavior: a node whose enrolled version measures other code is REJECTED, naming the measurement mismatch', async () => {
    await openPage(devtools, page.url)
    await fill(devtools, 'node-url', nodeB.url)
    await click(devtools, 'verify-url')
    const view = await readVerdict(devtools)
    await screenshot(devtools, 'verify-page-rejected.png')

    expect(view.verdict).toBe('REJECTED')
    expect(view.heading).toBe('REJECTED')
    // The document itself is genuine (dev root, fresh nonce) and the wallet and key are B's:
    // only the code does not match what the registry enrolled.
    expect(view.fields['attestation-result']).toBe('valid')
    expect(view.checks['wallet']).toEqual({ result: 'match', registry: walletB, document: walletB })
    expect(view.checks['tee-pubkey']?.result).toBe('match')
    expect(view.checks['code-measurement']).toEqual({ result: 'mismatch', registry: WRONG_MEASUREMENT, document: `0x${bytesToHex(DEV_CODE_MEASUREMENT)}` })
    expect(view.checks['peer-check']).toMatchObject({ result: 'mismatch', document: 'failed: measurement mismatch' })
    expect(view.reasons).toEqual([
      `Registry mismatch: Code measurement (version codeMeasurement vs keccak256(PCR0‖PCR1‖PCR2)): the registry says ${WRONG_MEASUREMENT}, the document 0x${bytesToHex(DEV_CODE_MEASUREMENT)}.`,
      'The check a KMS peer makes (PROTOCOL §4.5) failed: measurement mismatch.',
    ])
  })

  test('behavior: a pasted document verifies without a nonce check, and says so; no node is asked', async () => {
    const nonce = crypto.getRandomValues(new Uint8Array(32))
    const answer = (await (await nodeA.fetch(`/attestation?nonce=${encodeURIComponent(bytesToBase64(nonce))}`)).json()) as { attestation: string }
    await openPage(devtools, page.url)
    await fill(devtools, 'document-text', answer.attestation.replace(/.{1,76}/g, '$&\n'))
    await click(devtools, 'verify-document')
    const view = await readVerdict(devtools)

    expect(view.verdict).toBe('VALID')
    expect(view.reasons).toEqual([expect.stringContaining('The nonce was not checked')])
    expect(view.fields['field-nonce']).toBe(`32 bytes: ${bytesToHex(nonce)}; not checked`)
    for (const id of DECIDING.filter((id) => id !== 'peer-check')) expect(view.checks[id]?.result, id).toBe('match')
    expect(view.checks['peer-check']).toBeUndefined()
    expect(view.fields['ca-fingerprint']).toBeUndefined()
  })

  test('error: without the dev root the page trusts only AWS, and a dev document is REJECTED', async () => {
    await openPage(devtools, page.url)
    await devtools.evaluate("document.querySelector('[data-testid=use-dev-root]').click()")
    await fill(devtools, 'node-url', nodeA.url)
    await click(devtools, 'verify-url')
    const view = await readVerdict(devtools)

    expect(view.verdict).toBe('REJECTED')
    expect(view.trustKind).toBe('aws')
    expect(view.trust).toContain('pinned AWS Nitro Enclaves Root-G1')
    expect(view.fields['attestation-result']).toMatch(/^rejected: ATTESTATION_/)
    expect(view.checks['peer-check']?.result).toBe('mismatch')
  })
})
