/**
 * The SDK drives every endpoint of a real 3-node devnet (issue 17 item 7): anvil with the real
 * contracts, three `dist/kms.mjs` nodes in Miniflare, and `createNovaKmsClient` with the dev
 * root (every node verified by its attestation, binding v2). It runs twice, with the app's keys
 * held two ways (item 5): a viem `LocalAccount` signer and a non-extractable WebCrypto envelope
 * key; then the wallet and the envelope key of a local runtime (`dist/nova-runtime.mjs`), which
 * the app never reads.
 */
import { getAddress, recoverMessageAddress, type Hex } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createChainReaders, type NovaAppRegistryReader } from '../../core/chain'
import {
  AuditVerificationError,
  createNovaKmsClient,
  KmsLocalRuntimeError,
  KmsSignerError,
  runtimeEnvelopeKey,
  runtimeSigner,
  webCryptoEnvelopeKey,
  type AppKeyOptions,
  type NodeAttestationPolicy,
  type RuntimeKmsClient,
} from '../../core/client'
import { decryptEnvelope, encryptEnvelope, ENVELOPE_INFO_CURRENT, ENVELOPE_INFO_ENCLAVER_V1, generateP384PrivateKey, parseP384PublicKey } from '../../core/crypto'
import { bytesToHex, parseHex } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { Scratch } from '../unit/ca/_openssl'
import { cryptoRandom, registerTestApp, systemClock } from '../helpers/kmsNodes'
import { startMiniflareCluster, type ClusterMember } from '../helpers/miniflareCluster'
import { registerRuntimeApp, spawnRuntime, writeDevnetFile, type RuntimeApp, type RuntimeProcess } from '../platform/_cluster'

const sleep = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds))
const DEV_POLICY: NodeAttestationPolicy = { trustedRoot: devRootCertificateDer(), allowDebugMode: true }
const RUNTIME_APP_ID = 3101

let chain: DevChain
let members: ClusterMember[]
let registry: NovaAppRegistryReader
let runtime: RuntimeProcess
let runtimeApp: RuntimeApp

interface Run {
  name: string
  appId: number
  keys: AppKeyOptions
  /** The same app's keys as raw bytes, when the test knows them. */
  rawKeys?: AppKeyOptions
}
const runs: Run[] = []

function sdk(appId: number, keys: AppKeyOptions): RuntimeKmsClient {
  return createNovaKmsClient({ registry, kmsAppId: 49, appId, clock: systemClock, random: cryptoRandom, sleep, attestation: DEV_POLICY, ...keys }).client
}

beforeAll(async () => {
  chain = await startDevChain()
  members = await startMiniflareCluster(chain, { size: 3, masterSecretHex: '5e'.repeat(32) })
  registry = createChainReaders({ rpcUrl: chain.rpcUrl, novaAppRegistry: chain.addresses.novaAppRegistry, kmsRegistry: chain.addresses.kmsRegistry }).novaAppRegistry

  // Run 1: a viem account, and a P-384 pair whose private half cannot be exported.
  const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-384' }, false, ['deriveBits'])) as CryptoKeyPair
  const envelopeKey = await webCryptoEnvelopeKey({ keyPair: pair, random: cryptoRandom })
  const viemApp = await registerTestApp(chain, { teePubkey: `0x${bytesToHex(envelopeKey.publicKeyDer)}` })
  runs.push({ name: 'viem LocalAccount + WebCrypto key', appId: viemApp.appId, keys: { signer: privateKeyToAccount(`0x${bytesToHex(viemApp.walletKey)}`), envelopeKey } })

  // Run 2: both keys in a local runtime; the test knows them only to cross-check.
  runtimeApp = await registerRuntimeApp(chain, RUNTIME_APP_ID)
  runtime = await spawnRuntime(writeDevnetFile(chain, [runtimeApp], { kms: false }), RUNTIME_APP_ID)
  const runtimeKeys = { signer: await runtimeSigner({ runtimeUrl: runtime.apiUrl }), envelopeKey: await runtimeEnvelopeKey({ runtimeUrl: runtime.apiUrl }) }
  runs.push({ name: 'the local runtime\'s wallet and envelope key', appId: RUNTIME_APP_ID, keys: runtimeKeys, rawKeys: { walletKey: runtimeApp.walletKey, teeKey: runtimeApp.teeKey } })
}, 300_000)

afterAll(async () => {
  await runtime?.stop()
  for (const member of members ?? []) await member.node.stop()
  await chain?.stop()
})

describe("the local runtime's keys (RUNTIME.md §2)", () => {
  it('behavior: runtimeSigner is the instance wallet; its signatures are v 0/1 and recover to it (viem)', async () => {
    const signer = await runtimeSigner({ runtimeUrl: runtime.apiUrl })
    expect(signer.address).toBe(runtimeApp.wallet)
    const signature = await signer.signMessage({ message: 'NovaKMS:AppAuth:x' })
    expect(parseHex(signature)![64]).toBeLessThanOrEqual(1)
    expect(await recoverMessageAddress({ message: 'NovaKMS:AppAuth:x', signature: signature as Hex })).toBe(getAddress(runtimeApp.wallet))
    await expect(signer.signMessage({ message: { raw: new Uint8Array([0xc3]) } })).rejects.toThrow('message.raw: expected UTF-8 bytes')
  })

  it('behavior: runtimeEnvelopeKey is the registry teePubkey; it seals to a node key and opens what that key seals, once', async () => {
    const key = await runtimeEnvelopeKey({ runtimeUrl: runtime.apiUrl })
    expect(bytesToHex(key.publicKeyDer)).toBe(bytesToHex(runtimeApp.teeKey.publicKey.der))
    const node = await generateP384PrivateKey(cryptoRandom)
    const sealed = await key.seal({ plaintext: '{"path":"é"}', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_CURRENT })
    const app = parseP384PublicKey(sealed.senderPublicKeyDer)!
    expect(await decryptEnvelope({ privateKey: node, peerPublicKey: app, nonce: sealed.nonce, ciphertext: sealed.ciphertext, info: ENVELOPE_INFO_CURRENT })).toBe('{"path":"é"}')
    const nonce = cryptoRandom.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: node, peerPublicKey: app, nonce, plaintext: '{"ok":true}', info: ENVELOPE_INFO_CURRENT })
    const envelope = { senderPublicKeyDer: node.publicKey.der, nonce, ciphertext, info: ENVELOPE_INFO_CURRENT }
    expect(await key.open(envelope)).toBe('{"ok":true}')
    // The runtime refuses a nonce it has seen from this sender: a replayed answer cannot open.
    await expect(key.open(envelope)).rejects.toMatchObject({ code: 'decryption_failed' })
    await expect(key.seal({ plaintext: 'x', recipientPublicKeyDer: node.publicKey.der, info: ENVELOPE_INFO_ENCLAVER_V1 })).rejects.toThrow(RangeError)
  })

  it('error: a runtime that does not answer is KmsLocalRuntimeError runtime_unavailable', async () => {
    const dead = 'http://127.0.0.1:9'
    await expect(runtimeSigner({ runtimeUrl: dead, timeoutMs: 2000 })).rejects.toBeInstanceOf(KmsLocalRuntimeError)
    await expect(runtimeEnvelopeKey({ runtimeUrl: dead, timeoutMs: 2000 })).rejects.toMatchObject({ code: 'runtime_unavailable', details: expect.stringContaining('GET /v1/encryption/public_key') })
  })

  it('error: a signer that signs with another key than its address fails before any request: KmsSignerError', async () => {
    const other = privateKeyToAccount(`0x${'11'.repeat(32)}`)
    const signer = { address: getAddress(runtimeApp.wallet), signMessage: other.signMessage }
    const client = sdk(RUNTIME_APP_ID, { signer, teeKey: runtimeApp.teeKey })
    const error = await client.derive({ path: 'sdk/devnet' }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(KmsSignerError)
    expect(error).toMatchObject({ code: 'signer_mismatch' })
  })
})

// The runs are built in beforeAll, after the suites are collected: each is looked up by name.
for (const name of ['viem LocalAccount + WebCrypto key', "the local runtime's wallet and envelope key"]) {
  describe(`every endpoint, with ${name}`, () => {
    const run = (): Run => runs.find((candidate) => candidate.name === name)!
    let client: RuntimeKmsClient

    beforeAll(() => {
      client = sdk(run().appId, run().keys)
    })

    it('behavior: derive, deriveWithEpoch and deriveCryptoKey give one key; kv put, get, list, delete; sign_cert checked with openssl; the CA, status, reachability; the audit of exactly these calls, in order; the node list', async () => {
      const key = await client.derive({ path: 'sdk/devnet', context: 'ctx' })
      expect(key).toHaveLength(32)
      if (run().rawKeys !== undefined) {
        // The same app with its raw keys derives the same bytes: the runtime's keys are the app's.
        expect(bytesToHex(await sdk(run().appId, run().rawKeys!).derive({ path: 'sdk/devnet', context: 'ctx' }))).toBe(bytesToHex(key))
      }
      const pinned = await client.deriveWithEpoch({ path: 'sdk/devnet', context: 'ctx', epoch: { cluster: 0, app: 0 } })
      expect([bytesToHex(pinned.key), pinned.epoch]).toEqual([bytesToHex(key), { cluster: 0, app: 0 }])
      const hmac = await client.deriveCryptoKey({ path: 'sdk/devnet', context: 'ctx' }, { algorithm: { name: 'HMAC', hash: 'SHA-256' }, usages: ['sign'] })
      const raw = await crypto.subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
      const data = new TextEncoder().encode('mac me')
      expect(bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', hmac, data)))).toBe(bytesToHex(new Uint8Array(await crypto.subtle.sign('HMAC', raw, data))))
      expect(hmac.extractable).toBe(false)

      await client.kvPut('dir/one', new TextEncoder().encode('value one'))
      const read = await client.kvGet('dir/one')
      expect(read.found && new TextDecoder().decode(read.value)).toBe('value one')
      expect(await client.kvList()).toEqual(['dir/one'])
      expect(await client.kvDelete('dir/one')).toEqual({ deleted: true })

      // OpenSSL checks the chain the SDK was given (DESIGN §5).
      const openssl = new Scratch()
      onTestFinished(() => openssl.remove())
      const issued = await client.signCert(openssl.csr('leaf', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], [], '/CN=sdk-devnet'))
      openssl.write('leaf.pem', issued.certificate)
      openssl.write('ca.pem', issued.caCertificate)
      expect(openssl.ok(['verify', '-CAfile', 'ca.pem', 'leaf.pem']).trim()).toBe('leaf.pem: OK')
      const serial = openssl.ok(['x509', '-in', 'leaf.pem', '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase()
      expect(serial.replace(/^0+/, '')).toBe(issued.serial.replace(/^0+/, ''))

      const ca = await client.caCertificate()
      expect([ca.pem.trim(), ca.epoch]).toEqual([issued.caCertificate.trim(), 0])
      const { url, status } = await client.status()
      expect(members.map((member) => member.node.url)).toContain(url)
      expect((status['node'] as { service_available: boolean }).service_available).toBe(true)
      expect(await client.isReachable()).toBe(true)

      // The node that served the calls above (the first verified one, in URL order) logged
      // each, once it succeeded; kv_get of a deleted key and the public routes log nothing.
      const page = await client.audit()
      expect(page.node.url).toBe(url)
      expect(page.continuity).toEqual({ kind: 'first' })
      expect(page.entries.map((entry) => [entry.op, (entry as { path?: string; key?: string }).path ?? (entry as { key?: string }).key ?? null])).toEqual([
        ['derive', 'sdk/devnet'],
        ...(run().rawKeys === undefined ? [] : [['derive', 'sdk/devnet']]),
        ['derive', 'sdk/devnet'],
        ['derive', 'sdk/devnet'],
        ['data_put', 'dir/one'],
        ['data_get', 'dir/one'],
        ['data_list', null],
        ['data_delete', 'dir/one'],
        ['sign_cert', null],
      ])
      expect((page.entries.at(-1) as { serial?: string }).serial).toBe(issued.serial)
      expect(page.cursor).toMatchObject({ seq: page.head.seq, node: page.node })

      await client.derive({ path: 'sdk/after' })
      const next = await client.audit({ previous: page.cursor })
      expect(next.continuity).toEqual({ kind: 'continued' })
      expect(next.entries.map((entry) => [entry.seq, entry.op])).toEqual([[page.head.seq + 1, 'derive']])

      const listed = await client.nodes()
      expect(listed.url).toBe(url)
      expect(listed.nodes.map((node) => node.wallet).sort()).toEqual(members.map((member) => member.wallet).sort())
      expect(listed.nodes.every((node) => node.inRegistry && node.active && node.zkVerified)).toBe(true)
    })
  })
}

describe('audit across nodes', () => {
  it('behavior: the previous cursor\'s node is asked first; another node\'s chain is never taken as its continuation', async () => {
    const run = runs[0]!
    const client = sdk(run.appId, run.keys)
    const first = await client.audit()
    const byUrl = [...members].sort((left, right) => (left.node.url < right.node.url ? -1 : 1))
    expect(first.node.url).toBe(byUrl[0]!.node.url)
    // A cursor naming the last node in URL order: that node answers, and its boot is not the cursor's.
    const last = byUrl.at(-1)!
    const elsewhere = await client.audit({ previous: { ...first.cursor, seq: 0, node: { url: last.node.url, wallet: last.wallet } } })
    expect(elsewhere.node).toEqual({ url: last.node.url, wallet: last.wallet })
    expect(elsewhere.continuity).toEqual({ kind: 'restarted' })
  })

  it('error: a chain that does not continue the cursor (a fork) is AuditVerificationError, not another node\'s answer', async () => {
    const run = runs[0]!
    const client = sdk(run.appId, run.keys)
    const page = await client.audit()
    const error = await client.audit({ previous: { ...page.cursor, hash: 'ab'.repeat(32) } }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(AuditVerificationError)
    expect(error).toMatchObject({ code: 'fork' })
  })
})
