/**
 * Serves the "verify a KMS node" page (dist/verify/, built from web/verify/) on a loopback
 * port: `/` (index.html), `/verify.js` and `/config.json`, which tells the page where the
 * chain is and, for a devnet, the dev attestation root it may trust. Nothing else: the page
 * talks to the nodes and to the RPC itself, cross-origin (both send CORS headers).
 *
 * Used by `npm start` (bundle/devnet.ts) and by test/browser/verifyPage.test.ts. It is a
 * plain static server, never a KMS node route; Node only.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bytesToBase64 } from '../core/encoding'
import { devRootCertificateDer } from '../core/tee'
import { LOOPBACK } from './processes'

const DIST = fileURLToPath(new URL('../dist/verify/', import.meta.url))

/** What the page reads from `/config.json` (web/verify/main.ts). */
export interface VerifyPageConfig {
  rpcUrl: string
  kmsRegistry: string
  /** PEM of the dev attestation root; present only for a devnet, whose nodes make dev documents. */
  devRoot?: string
  nodes: { url: string; wallet?: string }[]
}

export interface VerifyPage {
  url: string
  close(): Promise<void>
}

/** A DER certificate as PEM (64-character lines), for `devRoot`. */
export function certificatePem(der: Uint8Array): string {
  const body = bytesToBase64(der).replace(/.{1,64}/g, '$&\n')
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`
}

/**
 * The page may run only its own script, and may fetch any http(s) origin: the node a person
 * types and the RPC. Styles are inline in index.html.
 */
const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self' http: https:; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
} as const

/**
 * Starts the server on 127.0.0.1:`port` (0: a free port the OS picks).
 * @throws Error when dist/verify/ is not built, or the port cannot be bound.
 */
export async function startVerifyPage(options: { port: number; config: VerifyPageConfig; directory?: string }): Promise<VerifyPage> {
  const directory = options.directory ?? DIST
  let html: Buffer
  let script: Buffer
  try {
    html = readFileSync(join(directory, 'index.html'))
    script = readFileSync(join(directory, 'verify.js'))
  } catch {
    throw new Error(`the verify page is not built (${join(directory, 'index.html')}, verify.js): run \`npm run build\``)
  }
  const files: Record<string, { type: string; body: Buffer }> = {
    '/': { type: 'text/html; charset=utf-8', body: html },
    '/index.html': { type: 'text/html; charset=utf-8', body: html },
    '/verify.js': { type: 'text/javascript; charset=utf-8', body: script },
    '/config.json': { type: 'application/json', body: Buffer.from(`${JSON.stringify(options.config, null, 2)}\n`) },
  }
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0]!
    const file = files[path]
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n')
      return
    }
    if (file === undefined) {
      response.writeHead(404, { ...HEADERS, 'content-type': 'text/plain' }).end('not found\n')
      return
    }
    response.writeHead(200, { ...HEADERS, 'content-type': file.type, 'content-length': String(file.body.length) })
    response.end(request.method === 'HEAD' ? undefined : file.body)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ port: options.port, host: LOOPBACK, exclusive: true }, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${LOOPBACK}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/**
 * config.json for a devnet: its chain, its nodes, and the dev root that its nodes' documents
 * chain to (they run in dev mode, PROTOCOL §3.2.3), so that the page offers to trust it.
 */
export function devnetPageConfig(params: { rpcUrl: string; kmsRegistry: string; nodes: readonly { url: string; wallet: string }[] }): VerifyPageConfig {
  return {
    rpcUrl: params.rpcUrl,
    kmsRegistry: params.kmsRegistry,
    devRoot: certificatePem(devRootCertificateDer()),
    nodes: params.nodes.map(({ url, wallet }) => ({ url, wallet })),
  }
}
