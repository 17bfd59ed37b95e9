/**
 * The "verify a KMS node" page (issue 17), built by esbuild into dist/verify/verify.js and
 * served with index.html and a config.json by the devnet (bundle/verifyPage.ts).
 *
 * config.json, all optional: `{"rpcUrl", "kmsRegistry", "devRoot": <PEM>, "nodes": [{"url"}]}`.
 * The page trusts the pinned AWS Nitro Enclaves root unless config.json names a dev root
 * AND the person leaves "Trust the devnet's DEV root" ticked; the verdict then says so.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { AWS_NITRO_ROOT_G1_SHA256, loadTrustedRoot, summarizeCertificate } from '../../core/attestation'
import { bytesToHex, parseWallet } from '../../core/encoding'
import { normalizeNodeUrl, verifyNodeUrl, verifyPastedDocument, type Report, type Trust, type VerifyOptions } from './report'
import { renderFailure, renderPending, renderReport, type TrustDescription } from './render'

interface PageConfig {
  rpcUrl: string
  kmsRegistry: string
  devRoot: { der: Uint8Array; text: string } | undefined
  nodes: string[]
}

function input(id: string): HTMLInputElement {
  const found = document.getElementById(id)
  if (!(found instanceof HTMLInputElement) && !(found instanceof HTMLTextAreaElement)) throw new Error(`index.html lacks #${id}`)
  return found as HTMLInputElement
}

function text(value: unknown): string {
  return typeof value === 'string' ? value.trim() : ''
}

/** Reads ./config.json; a missing or broken one leaves every field empty (and AWS trust). */
async function loadConfig(): Promise<{ config: PageConfig; note: string }> {
  const empty: PageConfig = { rpcUrl: '', kmsRegistry: '', devRoot: undefined, nodes: [] }
  let raw: Record<string, unknown>
  try {
    const response = await fetch('config.json', { cache: 'no-store', credentials: 'omit' })
    if (!response.ok) return { config: empty, note: 'No config.json: enter the JSON-RPC URL and the KMSRegistry address yourself.' }
    const parsed: unknown = await response.json()
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
    raw = parsed as Record<string, unknown>
  } catch (error) {
    return { config: empty, note: `config.json is unreadable (${error instanceof Error ? error.message : String(error)}): enter the settings yourself.` }
  }
  let devRoot: PageConfig['devRoot']
  let note = 'Settings from this page\'s config.json.'
  const pem = text(raw['devRoot'])
  if (pem !== '') {
    try {
      const der = loadTrustedRoot(pem)!
      const summary = summarizeCertificate(der)
      const subject = 'error' in summary ? 'unparseable subject' : summary.subject
      devRoot = { der, text: `${subject}, SHA-256 ${bytesToHex(sha256(der))}` }
    } catch {
      note = 'config.json names a devRoot that is not a PEM P-384 certificate: it is ignored, and documents are checked against AWS.'
    }
  }
  const nodes = Array.isArray(raw['nodes']) ? raw['nodes'].map((node: unknown) => (typeof node === 'string' ? node : text((node as Record<string, unknown> | null)?.['url']))).filter((url) => url !== '') : []
  return { config: { rpcUrl: text(raw['rpcUrl']), kmsRegistry: text(raw['kmsRegistry']), devRoot, nodes }, note }
}

function currentOptions(config: PageConfig): { options: VerifyOptions; trust: TrustDescription } {
  const useDev = config.devRoot !== undefined && input('use-dev-root').checked
  const trust: Trust = useDev ? { kind: 'dev', rootDer: config.devRoot!.der } : { kind: 'aws' }
  const description: TrustDescription = useDev
    ? { kind: 'dev', text: `Verified against the DEV root (not AWS): ${config.devRoot!.text}. Only devnet documents chain to it; this says nothing about a production enclave.` }
    : { kind: 'aws', text: `Verified against the pinned AWS Nitro Enclaves Root-G1 (SHA-256 ${AWS_NITRO_ROOT_G1_SHA256}).` }
  const rpcUrl = input('rpc-url').value.trim()
  const kmsRegistry = parseWallet(input('kms-registry').value.trim())
  const chain = rpcUrl !== '' && kmsRegistry !== undefined ? { rpcUrl, kmsRegistry } : undefined
  return { options: { trust, chain }, trust: description }
}

/** Runs one check with the buttons disabled, so that two runs never interleave their output. */
async function running(what: string, check: (options: VerifyOptions) => Promise<Report>, config: PageConfig): Promise<void> {
  const buttons = [...document.querySelectorAll('button')]
  for (const button of buttons) button.disabled = true
  try {
    const { options, trust } = currentOptions(config)
    renderPending(what)
    renderReport(await check(options), trust)
  } catch (error) {
    renderFailure(error instanceof Error ? error.message : String(error))
  } finally {
    for (const button of buttons) button.disabled = false
  }
}

async function start(): Promise<void> {
  const { config, note } = await loadConfig()
  input('rpc-url').value = config.rpcUrl
  input('kms-registry').value = config.kmsRegistry
  document.getElementById('config-note')!.textContent = note
  if (config.devRoot !== undefined) {
    document.getElementById('dev-root-choice')!.hidden = false
    input('use-dev-root').checked = true
  }
  const list = document.getElementById('known-nodes')!
  for (const url of config.nodes) {
    const option = document.createElement('option')
    option.value = url
    list.append(option)
  }
  const nodeUrl = input('node-url')
  if (nodeUrl.value === '' && config.nodes[0] !== undefined) nodeUrl.value = config.nodes[0]

  document.getElementById('url-form')!.addEventListener('submit', (event) => {
    event.preventDefault()
    const url = normalizeNodeUrl(nodeUrl.value)
    if (url === undefined) return renderFailure(`"${nodeUrl.value}" is not an http(s) URL without credentials.`)
    void running(url, (options) => verifyNodeUrl(url, options), config)
  })
  document.getElementById('paste-form')!.addEventListener('submit', (event) => {
    event.preventDefault()
    const pasted = input('document-text').value
    if (pasted.trim() === '') return renderFailure('Paste a document first.')
    void running('the pasted document', (options) => verifyPastedDocument(pasted, options), config)
  })
  document.body.dataset['ready'] = 'true'
}

void start()
