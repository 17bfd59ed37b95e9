/**
 * The verifier in a real browser (ATTESTATION.md §6.5, DESIGN §5): `core/attestation` is
 * bundled for browsers with esbuild, served with the nine real documents (and tampered
 * copies) from a loopback server, and run by headless Debian chromium. The page posts its
 * results back; they must equal the same verification run in Node.
 *
 * chromium is required, never skipped: install it with
 * `apt-get install -y --no-install-recommends chromium`.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'
import { afterAll, describe, expect, test } from 'vitest'
import { CHROMIUM, CHROMIUM_EXIT_TIMEOUT_MS, stopChromium, withTimeout } from '../helpers/chromium'
import * as verifier from '../../core/attestation'
import { loadNitroFixtures } from '../helpers/nitro/fixtures'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const RESULT_TIMEOUT_MS = 90_000

interface BrowserCase {
  name: string
  at: number
  allowDebugMode: boolean
}

type Summary =
  | { name: string; allowDebugMode: boolean; ok: true; moduleId: string; timestamp: number; pcrs: string; measurement: string; sizes: string }
  | { name: string; allowDebugMode: boolean; ok: false; code: string; wire: string }

type Verifier = Pick<typeof verifier, 'verifyNitroAttestation' | 'codeMeasurement' | 'isAttestationError'>

/**
 * Verifies one case and reduces the outcome to plain JSON. It runs in Node and, via
 * `toString()`, in the page, so both sides execute the very same code.
 */
async function summarize(api: Verifier, document: Uint8Array, c: BrowserCase): Promise<Summary> {
  const hex = (bytes: Uint8Array): string => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
  try {
    const result = await api.verifyNitroAttestation(document, { at: c.at, allowDebugMode: c.allowDebugMode })
    const size = (bytes: Uint8Array | null): string => (bytes === null ? 'null' : String(bytes.length))
    return {
      name: c.name,
      allowDebugMode: c.allowDebugMode,
      ok: true,
      moduleId: result.moduleId,
      timestamp: result.timestamp,
      pcrs: Array.from(result.pcrs, ([index, pcr]) => `${index}:${hex(pcr)}`).join(','),
      measurement: hex(api.codeMeasurement(result.pcrs)),
      sizes: [result.certificate.length, ...result.cabundle.map((entry) => entry.length), size(result.publicKey), size(result.userData), size(result.nonce)].join(','),
    }
  } catch (error) {
    if (!api.isAttestationError(error)) return { name: c.name, allowDebugMode: c.allowDebugMode, ok: false, code: `unexpected ${String(error)}`, wire: '' }
    return { name: c.name, allowDebugMode: c.allowDebugMode, ok: false, code: error.attestationCode, wire: `${error.status} ${error.message}` }
  }
}

/** The documents: the nine fixtures, plus a d1-tagged and a signature-flipped copy of each. */
function documents(): Map<string, { bytes: Uint8Array; at: number }> {
  const out = new Map<string, { bytes: Uint8Array; at: number }>()
  for (const { name, facts, document } of loadNitroFixtures()) {
    out.set(name, { bytes: document, at: facts.timestampMs })
    out.set(`${name} (tag 17)`, { bytes: Uint8Array.of(0xd1, ...document), at: facts.timestampMs })
    const flipped = document.slice()
    flipped[flipped.length - 1]! ^= 0x40
    out.set(`${name} (signature flipped)`, { bytes: flipped, at: facts.timestampMs })
  }
  return out
}

function page(cases: readonly BrowserCase[]): string {
  return `<!doctype html><meta charset="utf-8"><title>nova verifier</title>
<script type="module">
import * as api from './verifier.js'
const summarize = ${summarize.toString()}
const cases = ${JSON.stringify(cases)}
const results = []
try {
  for (const [index, c] of cases.entries()) {
    const response = await fetch('/document/' + index)
    results.push(await summarize(api, new Uint8Array(await response.arrayBuffer()), c))
  }
  await fetch('/results', { method: 'POST', body: JSON.stringify({ results, userAgent: navigator.userAgent }) })
} catch (error) {
  await fetch('/results', { method: 'POST', body: JSON.stringify({ error: String(error && error.stack || error) }) })
}
</script>`
}


const cleanups: (() => Promise<void> | void)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})



describe('browser verifier', () => {
  test('behavior: headless chromium verifies every fixture exactly as Node does', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y --no-install-recommends chromium\``)
    }
    const dir = mkdtempSync(join(tmpdir(), 'nova-browser-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))

    // The browser bundle of core/attestation, built the way esbuild.config.ts builds dist/verifier.js.
    await build({
      entryPoints: [join(ROOT, 'core/attestation/index.ts')],
      outfile: join(dir, 'verifier.js'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      minify: true,
      logLevel: 'silent',
    })
    const bundle = readFileSync(join(dir, 'verifier.js'))
    expect(bundle.toString('utf8')).not.toMatch(/from\s*["']node:/)
    console.info(`browser bundle: ${bundle.length} B minified, ${gzipSync(bundle).length} B gzipped`)

    const byName = documents()
    const cases: BrowserCase[] = [...byName].flatMap(([name, { at }]) => [
      { name, at, allowDebugMode: true },
      { name, at, allowDebugMode: false },
    ])
    const html = page(cases)

    let deliver: (body: string) => void = () => undefined
    const posted = new Promise<string>((resolve) => {
      deliver = resolve
    })
    const server: Server = createServer((request, response) => {
      const url = request.url ?? '/'
      if (request.method === 'POST' && url === '/results') {
        const chunks: Buffer[] = []
        request.on('data', (chunk: Buffer) => chunks.push(chunk))
        request.on('end', () => {
          response.writeHead(204).end()
          deliver(Buffer.concat(chunks).toString('utf8'))
        })
        return
      }
      if (url === '/') return void response.writeHead(200, { 'content-type': 'text/html' }).end(html)
      if (url === '/verifier.js') return void response.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle)
      const match = /^\/document\/(\d+)$/.exec(url)
      const entry = match === null ? undefined : byName.get(cases[Number(match[1])]?.name ?? '')
      if (entry !== undefined) return void response.writeHead(200, { 'content-type': 'application/cbor' }).end(entry.bytes)
      response.writeHead(404).end()
    })
    await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), CHROMIUM_EXIT_TIMEOUT_MS, 'server listen')
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
    const { port } = server.address() as AddressInfo

    const profile = join(dir, 'profile')
    const chromium = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        `http://127.0.0.1:${port}/`,
      ],
      { detached: true, stdio: 'ignore' },
    )
    cleanups.push(() => stopChromium(chromium))
    const exitedEarly = new Promise<never>((_, reject) =>
      chromium.once('exit', (code, signal) => reject(new Error(`chromium exited early (${code ?? signal})`))),
    )
    const body = await withTimeout(Promise.race([posted, exitedEarly]), RESULT_TIMEOUT_MS, 'results from chromium')
    await stopChromium(chromium)

    const report = JSON.parse(body) as { results?: Summary[]; error?: string; userAgent?: string }
    expect(report.error).toBeUndefined()
    console.info(`browser: ${report.userAgent}`)

    const expected: Summary[] = []
    for (const c of cases) expected.push(await summarize(verifier, byName.get(c.name)!.bytes, c))
    expect(report.results).toEqual(expected)
    // The comparison is meaningful: both outcomes occur, with the codes §6 predicts.
    expect(expected.filter((summary) => summary.ok)).toHaveLength(9 + 3)
    expect(new Set(expected.flatMap((summary) => (summary.ok ? [] : [summary.code])))).toEqual(
      new Set(['ATTESTATION_DEBUG_MODE', 'ATTESTATION_COSE_MALFORMED', 'ATTESTATION_SIGNATURE_INVALID']),
    )
  })
})
