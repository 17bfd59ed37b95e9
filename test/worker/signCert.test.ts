/**
 * The cluster CA over `dist/kms.mjs` in Miniflare (issue 7): `/kms/ca` serves the §8.3
 * certificate for the §5.7 master secret, and `/kms/sign_cert` issues leaves that openssl
 * verifies against it, with the identity from the registry and nothing from the CSR. A DNS
 * SAN is issued only for a registered host in the app's own zone `app-<app_id>.<CA_DNS_SUFFIX>`
 * (issue 12, finding 9).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KmsClientError } from '../../core/client'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerKmsNode, registerTestApp, startMiniflareNode, tickUntil, type TestApp, type TestNode } from '../helpers/kmsNodes'

const MASTER_SECRET_HEX = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'
const CA_FINGERPRINT = 'a5864b86b624199180526f4469baf26ed213117b13edc4badc562fee52fd6a7a'
/** The operator's suffix: app 7's zone is `app-7.example.com`. */
const CA_DNS_SUFFIX = 'example.com'

let chain: DevChain
let node: TestNode
let app: TestApp
const dir = mkdtempSync(join(tmpdir(), 'sign-cert-'))

function openssl(...args: string[]): string {
  return execFileSync('openssl', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

function makeCsr(name: string, keyArgs: string[], subject = '/CN=kms', extra: string[] = []): string {
  openssl('req', '-new', '-nodes', ...keyArgs, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject, ...extra)
  return readFileSync(join(dir, `${name}.csr`), 'utf8')
}

beforeAll(async () => {
  chain = await startDevChain()
  node = await startMiniflareNode(chain, { MASTER_SECRET_HEX, CA_DNS_SUFFIX })
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available)
  app = await registerTestApp(chain, { appId: 7, instanceUrl: 'https://App-7.Example.com./path' })
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('the cluster CA over HTTP', () => {
  it('vector: /kms/ca is the §8.3 certificate for master 00…1f and app 49 (conformance 94)', async () => {
    const response = await node.fetch('/kms/ca')
    const body = (await response.json()) as { ca_certificate: string; fingerprint_sha256: string }
    expect(body.fingerprint_sha256).toBe(CA_FINGERPRINT)
    expect(body.ca_certificate).toMatch(/^-----BEGIN CERTIFICATE-----\nMIIBvjCCAWWgAwIBAgIQFG\/m9eOzDgBj4HREA\/\/ZUTAKBggqhkjOPQQDAjA\+MREw\n/)
    writeFileSync(join(dir, 'ca.pem'), body.ca_certificate)
    expect(openssl('verify', '-CAfile', 'ca.pem', 'ca.pem').trim()).toBe('ca.pem: OK')
  })

  it('behavior: P-256, P-384 and Ed25519 CSRs from openssl give leaves that openssl verifies (conformance 97–100)', async () => {
    const client = await app.client(node)
    const kinds: [string, string[]][] = [
      ['p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
      ['p384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384']],
      ['ed25519', ['-newkey', 'ed25519']],
    ]
    for (const [name, keyArgs] of kinds) {
      // The CSR asks for CN=kms, a wildcard, another app's name and CA:true: none of it may appear.
      const csr = makeCsr(name, keyArgs, '/CN=kms/O=Nova App', ['-addext', 'subjectAltName=DNS:*.example.com,URI:nova://app/1/instance/1', '-addext', 'basicConstraints=critical,CA:TRUE'])
      const answer = await client.signCert(csr)
      writeFileSync(join(dir, `${name}.pem`), String(answer['certificate']))
      expect(openssl('verify', '-CAfile', 'ca.pem', `${name}.pem`).trim()).toBe(`${name}.pem: OK`)
      const text = openssl('x509', '-in', `${name}.pem`, '-noout', '-text')
      expect(text).toContain(`Subject: O = Nova App, CN = app-${app.appId}`)
      expect(text).toContain(`URI:nova://app/${app.appId}/instance/${app.instanceId}`)
      expect(text).toContain('DNS:app-7.example.com')
      expect(text).not.toContain('*.example.com')
      expect(text).not.toContain('CN = kms')
      expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/)
      expect(text).toMatch(/Key Usage: critical\s+Digital Signature/)
      expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication, TLS Web Client Authentication/)
      expect(answer['app_id']).toBe(app.appId)
      expect(String(answer['serial'])).toMatch(/^[0-7][0-9a-f]{31}$/)
    }
  })

  it('error: another app that registers app 7\'s host (or a lookalike) gets no DNS SAN, only its own URI (finding 9)', async () => {
    for (const [index, instanceUrl] of ['https://App-7.Example.com./path', 'https://app-7.example.com.evil.com', 'https://example.com'].entries()) {
      const squatter = await registerTestApp(chain, { instanceUrl })
      const answer = await (await squatter.client(node)).signCert(makeCsr(`squatter-${index}`, ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], '/CN=x', ['-addext', 'subjectAltName=DNS:app-7.example.com']))
      writeFileSync(join(dir, `squatter-${index}.pem`), String(answer['certificate']))
      expect(openssl('verify', '-CAfile', 'ca.pem', `squatter-${index}.pem`).trim()).toBe(`squatter-${index}.pem: OK`)
      const san = openssl('x509', '-in', `squatter-${index}.pem`, '-noout', '-ext', 'subjectAltName')
      expect(san).toMatch(new RegExp(`Subject Alternative Name: \\n\\s+URI:nova://app/${squatter.appId}/instance/${squatter.instanceId}\\n$`))
      expect(san).not.toContain('DNS:')
      expect(answer['app_id']).toBe(squatter.appId)
    }
  })

  it('behavior: the default validity is 7 days; more than 30 days is refused (conformance 101)', async () => {
    const client = await app.client(node)
    const csr = makeCsr('validity', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'])
    const answer = await client.signCert(csr)
    const notAfter = Date.parse(String(answer['not_after']))
    expect(Math.abs(notAfter - (Date.now() + 7 * 86_400_000))).toBeLessThan(120_000)
    const refused = await client.signCert(csr, 2_592_001).catch((error: unknown) => error)
    expect(refused).toBeInstanceOf(KmsClientError)
    expect((refused as KmsClientError).message).toBe("'validity_seconds' must be in range 1..2592000")
  })

  it('error: bad CSRs get 400 with a clear code, never a 500 (conformance 102)', async () => {
    const client = await app.client(node)
    const rsa = makeCsr('rsa', ['-newkey', 'rsa:2048'])
    const refusals: [string, string][] = []
    for (const csr of [rsa, 'garbage', '']) {
      const error = (await client.signCert(csr).catch((caught: unknown) => caught)) as KmsClientError
      refusals.push([String(error.status), error.code])
    }
    expect(refusals).toEqual([['400', 'unsupported_key'], ['400', 'invalid_csr'], ['400', 'invalid_csr']])
  })

  it('property: random strings as a CSR never produce a 500', async () => {
    const client = await app.client(node)
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (csr) => {
        const error = await client.signCert(csr).then(() => undefined, (caught: unknown) => caught)
        expect(error).toBeInstanceOf(KmsClientError)
        expect((error as KmsClientError).status).toBe(400)
      }),
      { numRuns: 25 },
    )
  })
})
