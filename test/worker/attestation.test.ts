/**
 * Attestation in both directions, end to end over `dist/kms.mjs` in Miniflare (issue 6):
 * an app authenticates with a Nitro document that embeds a fresh KMS nonce, and a client
 * checks the node's own `/attestation` against the registry (PROTOCOL §2.9, §3.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { codeMeasurement, verifyNitroAttestation } from '../../core/attestation'
import { createChainReaders } from '../../core/chain'
import { KmsClient } from '../../core/client'
import { bytesToBase64, bytesToHex, parseBase64, parseHex, type JsonValue, type Wallet } from '../../core/encoding'
import { devRootCertificateDer, issueDevAttestation } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { metricValue } from '../helpers/faults'
import { cryptoRandom, registerKmsNode, registerTestApp, startMiniflareNode, systemClock, tickUntil, type TestApp, type TestNode, refusal } from '../helpers/kmsNodes'
import { CborArrayValue, CborMapValue, CborUint64, encodeCbor } from '../helpers/nitro/cborWriter'
import { buildSyntheticChain, signSyntheticDocument, syntheticPcrs } from '../helpers/nitro/syntheticChain'

/** keccak256 of PCR0‖PCR1‖PCR2 all zero: what dev documents measure (PROTOCOL §10.3). */
const DEV_MEASUREMENT = '0xcd2e66bf0b91eeedc6c648ae9335a78d7c9a4ab0ef33612a824d91cdc68a4f21' as const

let chain: DevChain
let node: TestNode
let app: TestApp

/** The app's own helper: a dev document for `nonce`, naming the app's wallet. */
function devAttester(target: TestApp, options: { ageMs?: number; wallet?: Wallet } = {}) {
  return (nonce: string, userData: Readonly<Record<string, JsonValue>> = {}): Promise<Uint8Array> =>
    issueDevAttestation({
      request: { nonce: parseBase64(nonce)!, userData },
      wallet: options.wallet ?? target.wallet,
      teePublicKeyDer: target.teeKey.publicKey.der,
      nowMs: Date.now() - (options.ageMs ?? 0),
      random: cryptoRandom,
    })
}

async function attestedClient(target: TestApp, attest: (nonce: string, userData: Readonly<Record<string, JsonValue>>) => Promise<Uint8Array>, auth: 'attestation' | 'both' = 'attestation'): Promise<KmsClient> {
  const { node: self } = await node.status()
  return new KmsClient({
    node: { url: node.url, wallet: self.tee_wallet, teePubkeyDer: parseHex(self.tee_pubkey)! },
    walletKey: target.walletKey,
    teeKey: target.teeKey,
    clock: systemClock,
    random: cryptoRandom,
    fetch: (input, init) => node.fetch(String(input).slice(node.url.length), init),
    attest,
    auth,
  })
}


beforeAll(async () => {
  chain = await startDevChain()
  node = await startMiniflareNode(chain)
  await registerKmsNode(chain, node)
  await tickUntil(node, (status) => status.node.service_available)
  app = await registerTestApp(chain, { codeMeasurement: DEV_MEASUREMENT })
})

afterAll(async () => {
  await node?.stop()
  await chain?.stop()
})

describe('attestation auth (PROTOCOL §3.2)', () => {
  it('behavior: an app authenticates by attestation alone and derives its key (conformance 39, 47)', async () => {
    const byAttestation = await attestedClient(app, devAttester(app))
    const byPop = await app.client(node)
    const attested = await byAttestation.derive({ path: 'wallet/root' })
    expect(attested.appId).toBe(app.appId)
    // The client checked the counter-signature over SHA-256(document) (§3.4).
    expect(bytesToHex(attested.key)).toBe(bytesToHex((await byPop.derive({ path: 'wallet/root' })).key))
  })

  it('behavior: PoP and attestation together must name the same wallet (conformance 46)', async () => {
    const both = await attestedClient(app, devAttester(app), 'both')
    expect((await both.derive({ path: 'p' })).key).toHaveLength(32)
    const other = await registerTestApp(chain, { codeMeasurement: DEV_MEASUREMENT })
    const mismatched = await attestedClient(app, devAttester(app, { wallet: other.wallet }), 'both')
    expect(await refusal(() => mismatched.derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Attestation wallet does not match PoP signer' })
  })

  it('error: a replayed nonce is refused (conformance 40)', async () => {
    const client = await attestedClient(app, devAttester(app))
    const body = JSON.stringify(await client.sealRequest({ path: 'p' }))
    const { headers } = await client.authHeaders({ method: 'POST', path: '/kms/derive', body })
    expect((await node.fetch('/kms/derive', { method: 'POST', headers, body })).status).toBe(200)
    const replay = await node.fetch('/kms/derive', { method: 'POST', headers, body: JSON.stringify(await client.sealRequest({ path: 'p' })) })
    expect(replay.status).toBe(403)
    expect(await replay.json()).toEqual({ code: 'unauthorized', message: 'Attestation rejected: invalid or expired nonce' })
  })

  it('error: a stale document is refused before its nonce is consumed (conformance 41)', async () => {
    const nonce = ((await (await node.fetch('/nonce')).json()) as { nonce: string }).nonce
    const stale = await devAttester(app, { ageMs: 301_000 })(nonce)
    const client = await attestedClient(app, async () => stale)
    const response = await node.fetch('/kms/derive', {
      method: 'POST',
      headers: { 'x-nitro-attestation': bytesToBase64(stale) },
      body: JSON.stringify(await client.sealRequest({ path: 'p' })),
    })
    expect(response.status).toBe(403)
    expect(await response.json()).toEqual({ code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_TOO_OLD' })
    // The nonce is still good: a fresh document with it succeeds.
    const fresh = await attestedClient(app, async () => devAttester(app)(nonce))
    const body = JSON.stringify(await fresh.sealRequest({ path: 'p' }))
    const retried = await node.fetch('/kms/derive', { method: 'POST', headers: { 'x-nitro-attestation': bytesToBase64(await devAttester(app)(nonce)) }, body })
    expect(retried.status).toBe(200)
  })

  it('error: a wrong measurement gets 403 measurement_mismatch (conformance 43)', async () => {
    const measured = await registerTestApp(chain, { codeMeasurement: `0x${'ab'.repeat(32)}` })
    const client = await attestedClient(measured, devAttester(measured))
    expect(await refusal(() => client.derive({ path: 'p' }))).toEqual({ status: 403, code: 'measurement_mismatch', message: 'Code measurement does not match registry' })
  })

  it('error: a wallet the registry does not list keeps §3.3 messages (no prefix)', async () => {
    const stranger = { ...app, wallet: '0x00000000000000000000000000000000000000aa' as Wallet }
    const client = await attestedClient(app, devAttester(stranger))
    expect(await refusal(() => client.derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Instance not found' })
  })

  it('error: a document from another root is refused (conformance 44)', async () => {
    const forged = async (nonce: string): Promise<Uint8Array> => {
      const nowMs = Date.now()
      const synthetic = buildSyntheticChain({ nowMs })
      const payload = new CborMapValue([
        ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
        ['digest', 'SHA384'],
        ['timestamp', new CborUint64(nowMs)],
        ['pcrs', syntheticPcrs()],
        ['certificate', synthetic.leaf],
        ['cabundle', new CborArrayValue([...synthetic.cabundle])],
        ['public_key', null],
        ['user_data', new TextEncoder().encode(JSON.stringify({ eth_addr: app.wallet }))],
        ['nonce', parseBase64(nonce)!],
      ])
      return signSyntheticDocument(encodeCbor(payload), synthetic.leafKey)
    }
    const client = await attestedClient(app, forged)
    expect(await refusal(() => client.derive({ path: 'p' }))).toEqual({ status: 403, code: 'unauthorized', message: 'Attestation rejected: ATTESTATION_ROOT_UNTRUSTED' })
  })

  it('behavior: /metrics counts each rejected app document by the check it failed (§2.8)', async () => {
    const failures = async (reason: string): Promise<number> =>
      metricValue(await (await node.fetch('/metrics')).text(), 'nova_kms_attestation_failures_total', { source: 'app', reason })
    const [staleBefore, untrustedBefore] = [await failures('ATTESTATION_TOO_OLD'), await failures('ATTESTATION_ROOT_UNTRUSTED')]
    const stale = await attestedClient(app, devAttester(app, { ageMs: 10 * 60_000 }))
    expect((await refusal(() => stale.derive({ path: 'p' }))).message).toBe('Attestation rejected: ATTESTATION_TOO_OLD')
    expect(await failures('ATTESTATION_TOO_OLD')).toBe(staleBefore + 1)
    expect(await failures('ATTESTATION_ROOT_UNTRUSTED'), 'another reason is counted apart').toBe(untrustedBefore)
  })

  it('error: garbage in X-Nitro-Attestation is a 403 with a stable code, never a 500', async () => {
    for (const header of ['!!!', 'AAAA', bytesToBase64(new Uint8Array(20_000))]) {
      const response = await node.fetch('/kms/derive', { method: 'POST', headers: { 'x-nitro-attestation': header }, body: '{}' })
      expect(response.status).toBe(403)
      expect(((await response.json()) as { message: string }).message).toMatch(/^Attestation rejected: ATTESTATION_[A-Z_]+$/)
    }
  })
})

describe('the node proves itself (PROTOCOL §2.9, conformance 20)', () => {
  it('behavior: /attestation verifies client-side and matches the registry', async () => {
    const nonce = cryptoRandom.bytes(32)
    const response = await node.fetch(`/attestation?nonce=${encodeURIComponent(bytesToBase64(nonce))}`)
    expect(response.status).toBe(200)
    const document = parseBase64(((await response.json()) as { attestation: string }).attestation)!
    const verified = await verifyNitroAttestation(document, {
      at: Date.now(),
      maxAgeMs: 60_000,
      expectedNonce: nonce,
      allowDebugMode: true,
      trustedRoot: devRootCertificateDer(),
    })
    const { node: self } = await node.status()
    const readers = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry })
    const instance = await readers.novaAppRegistry.getInstanceByWallet(self.tee_wallet)
    const version = await readers.novaAppRegistry.getVersion(instance!.appId, instance!.versionId)
    const userData = JSON.parse(new TextDecoder().decode(verified.userData!)) as { eth_addr: string }
    expect(userData.eth_addr).toBe(instance!.teeWalletAddress)
    expect(bytesToHex(verified.publicKey!)).toBe(bytesToHex(instance!.teePubkey))
    expect(bytesToHex(codeMeasurement(verified.pcrs))).toBe(bytesToHex(version!.codeMeasurement))
  })

  it('error: a nonce outside 16..64 bytes is 400', async () => {
    for (const query of ['', '?nonce=AAAA', `?nonce=${encodeURIComponent(bytesToBase64(new Uint8Array(65)))}`, '?nonce=%%%']) {
      const response = await node.fetch(`/attestation${query}`)
      expect(response.status).toBe(400)
      expect(await response.json()).toEqual({ code: 'bad_request', message: "'nonce' must be base64 of 16..64 bytes" })
    }
    expect((await node.fetch(`/attestation?nonce=${bytesToBase64(new Uint8Array(16)).replace(/=+$/, '').replace(/\+/g, '-')}`)).status).toBe(200)
  })
})
