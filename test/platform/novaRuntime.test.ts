/**
 * `node dist/nova-runtime.mjs` end to end (RUNTIME.md §2): spawned as the devnet launcher
 * spawns it, against three `node dist/kms.mjs` processes on anvil. Every answer is checked
 * with independent tools: viem recovers signatures and decodes transactions, the ATTESTATION
 * verifier checks documents against the dev root, the envelope cipher opens ciphertexts.
 */
import { getAddress, keccak256, parseTransaction, recoverMessageAddress, recoverTransactionAddress, serializeTransaction, type Hex } from 'viem'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyNitroAttestation } from '../../core/attestation'
import { KmsClient, discoverKmsNodes } from '../../core/client'
import { createChainReaders } from '../../core/chain'
import { decryptEnvelope, deriveEnvelopeKey, encryptEnvelope, generateP384PrivateKey, parseP384PublicKey, type P384PrivateKey } from '../../core/crypto'
import { bytesToBase64, bytesToHex, parseBase64, parseHex } from '../../core/encoding'
import { devRootCertificateDer } from '../../core/tee'
import { cryptoRandom, systemClock } from '../helpers/kmsNodes'
import { registerRuntimeApp, runRuntimeCli, spawnRuntime, startPlatformCluster, writeDevnetFile, type PlatformCluster, type RuntimeApp, type RuntimeProcess } from './_cluster'

const LABEL = 'capsule-ecdh-aes256gcm-v1'
const APP_ID = 3001

let cluster: PlatformCluster
let app: RuntimeApp
let runtime: RuntimeProcess
let clientKey: P384PrivateKey

async function post(path: string, body: unknown, base = runtime.apiUrl): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : body instanceof Uint8Array ? new Uint8Array(body) : JSON.stringify(body) })
}

async function json<T = Record<string, unknown>>(response: Response): Promise<T> {
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`)
  return (await response.json()) as T
}

/** The status and the text message of a refused call. */
async function refusal(response: Response): Promise<{ status: number; message: string }> {
  return { status: response.status, message: await response.text() }
}

const base64 = (text: string): string => bytesToBase64(new TextEncoder().encode(text))

beforeAll(async () => {
  cluster = await startPlatformCluster()
  app = await registerRuntimeApp(cluster.chain, APP_ID)
  runtime = await spawnRuntime(writeDevnetFile(cluster.chain, [app]), APP_ID)
  clientKey = await generateP384PrivateKey(cryptoRandom)
}, 300_000)

afterAll(async () => {
  await runtime?.stop()
  await cluster?.stop()
})

describe('the artefact and its command line', () => {
  it('behavior: prints exactly one line naming the app, the API and the Aux API', () => {
    expect(runtime.stdout).toEqual([`nova-runtime app ${APP_ID} api ${runtime.apiUrl} aux ${runtime.auxUrl}`])
  })

  it('behavior: --help prints the usage and exits 0', async () => {
    const { code, stdout } = await runRuntimeCli(['--help'])
    expect(code).toBe(0)
    expect(stdout).toContain('--devnet <devnet.json> --app-id <N> [--port <P>] [--host <H>]')
  })

  it('error: a missing file or app exits 1 with a message', async () => {
    const missingFile = await runRuntimeCli(['--devnet', '/nonexistent/devnet.json', '--app-id', '1'])
    expect(missingFile.code).toBe(1)
    expect(missingFile.stderr).toContain('cannot read /nonexistent/devnet.json')
    const missingApp = await runRuntimeCli(['--devnet', writeDevnetFile(cluster.chain, [app]), '--app-id', '424242'])
    expect(missingApp.code).toBe(1)
    expect(missingApp.stderr).toContain('no app with appId 424242 in apps')
  })

  it('behavior: SIGTERM closes both ports and exits 0', async () => {
    const other = await spawnRuntime(writeDevnetFile(cluster.chain, [app]), APP_ID)
    const exited = new Promise<number | null>((resolve) => other.child.once('exit', (code) => resolve(code)))
    other.child.kill('SIGTERM')
    expect(await exited).toBe(0)
    await expect(fetch(`${other.apiUrl}/v1/random`)).rejects.toThrow()
    await expect(fetch(`${other.auxUrl}/v1/eth/address`)).rejects.toThrow()
  })

  it('behavior: without KMS integration, /v1/kms/* answers 400 "KMS integration not configured"', async () => {
    const bare = await spawnRuntime(writeDevnetFile(cluster.chain, [app], { kms: false }), APP_ID)
    try {
      expect(await refusal(await post('/v1/kms/derive', { path: 'x' }, bare.apiUrl))).toEqual({ status: 400, message: 'KMS integration not configured' })
      expect((await fetch(`${bare.apiUrl}/v1/app-wallet/address`)).status).toBe(400)
      expect((await fetch(`${bare.apiUrl}/v1/random`)).status).toBe(200)
    } finally {
      await bare.stop()
    }
  })
})

describe('/v1/eth, /v1/random', () => {
  it('behavior: the address is the instance wallet, with its uncompressed public key', async () => {
    const answer = await json<{ address: string; public_key: string }>(await fetch(`${runtime.apiUrl}/v1/eth/address`))
    expect(answer.address).toBe(getAddress(app.wallet))
    expect(answer.public_key).toMatch(/^0x04[0-9a-f]{128}$/)
  })

  it('behavior: sign is EIP-191 with v ∈ {0, 1} and recovers to the instance wallet', async () => {
    const answer = await json<{ signature: Hex; address: string; attestation: string | null }>(await post('/v1/eth/sign', { message: 'hello runtime' }))
    expect(parseHex(answer.signature)![64]).toBeLessThanOrEqual(1)
    expect(await recoverMessageAddress({ message: 'hello runtime', signature: answer.signature })).toBe(getAddress(app.wallet))
    expect(answer.attestation).toBeNull()
    const attested = await json<{ attestation: string }>(await post('/v1/eth/sign', { message: 'x', include_attestation: true }))
    const document = await verifyNitroAttestation(parseBase64(attested.attestation)!, { at: Date.now(), trustedRoot: devRootCertificateDer(), allowDebugMode: true })
    expect(JSON.parse(new TextDecoder().decode(document.userData!))).toMatchObject({ eth_addr: app.wallet })
  })

  it('behavior: sign-tx (structured and raw_rlp) gives a transaction viem decodes and recovers to the instance wallet', async () => {
    const payload = { kind: 'structured', chain_id: '0x7a69', nonce: '0x3', max_priority_fee_per_gas: '0x3b9aca00', max_fee_per_gas: '0x77359400', gas_limit: 21000, to: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', value: '1000000000000000', data: '0x', access_list: [] }
    const answer = await json<{ raw_transaction: Hex; transaction_hash: Hex; signature: Hex; address: string }>(await post('/v1/eth/sign-tx', { payload }))
    const decoded = parseTransaction(answer.raw_transaction)
    expect(decoded).toMatchObject({ type: 'eip1559', chainId: 31337, nonce: 3, gas: 21000n, value: 1_000_000_000_000_000n, maxFeePerGas: 2_000_000_000n })
    expect(await recoverTransactionAddress({ serializedTransaction: answer.raw_transaction as `0x02${string}` })).toBe(getAddress(app.wallet))
    expect(answer.transaction_hash).toBe(keccak256(answer.raw_transaction))
    expect(parseHex(answer.signature)![64]).toBe(decoded.yParity)
    // The same transaction, unsigned as raw RLP, signs to the same bytes (RFC 6979).
    const { r: _r, s: _s, v: _v, yParity: _y, ...unsignedFields } = decoded
    const raw = await json<{ raw_transaction: Hex }>(await post('/v1/eth/sign-tx', { payload: { kind: 'raw_rlp', raw_payload: serializeTransaction(unsignedFields) } }))
    expect(raw.raw_transaction).toBe(answer.raw_transaction)
  })

  it('behavior: /v1/random is 32 bytes of 0x hex', async () => {
    const answer = await json<{ random_bytes: string }>(await fetch(`${runtime.apiUrl}/v1/random`))
    expect(answer.random_bytes).toMatch(/^0x[0-9a-f]{64}$/)
  })
})

describe('/v1/kms through the KMS cluster', () => {
  it('behavior: derive answers base64 of the same key the SDK derives from a node for this app', async () => {
    const answer = await json<{ key: string }>(await post('/v1/kms/derive', { path: 'wallet/root', context: 'session-a' }))
    const [first] = await discoverKmsNodes({ registry: registry(), kmsAppId: cluster.chain.addresses.kmsAppId })
    const sdk = new KmsClient({ node: first!, walletKey: app.walletKey, teeKey: app.teeKey, clock: systemClock, random: cryptoRandom })
    expect(bytesToHex(parseBase64(answer.key)!)).toBe(bytesToHex((await sdk.derive({ path: 'wallet/root', context: 'session-a' })).key))
    const sized = await json<{ key: string }>(await post('/v1/kms/derive', { path: 'p', length: 16 }))
    expect(parseBase64(sized.key)).toHaveLength(16)
  })

  it('behavior: with --binding v2 the same calls run with request/response binding v2 (PROTOCOL §3.5)', async () => {
    const bound = await spawnRuntime(writeDevnetFile(cluster.chain, [app]), APP_ID, ['--binding', 'v2'])
    try {
      const call = (path: string, body: unknown): Promise<Response> =>
        fetch(`${bound.apiUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      const v2 = (await (await call('/v1/kms/derive', { path: 'wallet/root', context: 'session-a' })).json()) as { key: string }
      const v1 = await json<{ key: string }>(await post('/v1/kms/derive', { path: 'wallet/root', context: 'session-a' }))
      expect(v2.key).toBe(v1.key)
      expect(await (await call('/v1/kms/kv/put', { key: 'bound', value: base64('v2 value') })).json()).toEqual({ success: true })
      expect(await (await call('/v1/kms/kv/get', { key: 'bound' })).json()).toEqual({ found: true, value: base64('v2 value') })
      const missing = await call('/v1/kms/kv/get', { key: 'never written' })
      expect(missing.status).toBe(404)
    } finally {
      await bound.stop()
    }
  })

  it('behavior: kv put, get, delete; a missing key is 404 {"found":false,"value":null}', async () => {
    expect(await json(await post('/v1/kms/kv/put', { key: 'dir/a key', value: base64('stored value'), ttl_ms: 0 }))).toEqual({ success: true })
    expect(await json(await post('/v1/kms/kv/get', { key: 'dir/a key' }))).toEqual({ found: true, value: base64('stored value') })
    expect(await json(await post('/v1/kms/kv/delete', { key: 'dir/a key' }))).toEqual({ success: true })
    const missing = await post('/v1/kms/kv/get', { key: 'dir/a key' })
    expect(missing.status).toBe(404)
    expect(await missing.json()).toEqual({ found: false, value: null })
  })

  it('error: validation failures and the reserved prefix are 400 with a message', async () => {
    expect(await refusal(await post('/v1/kms/derive', { path: 'wallet/eth/app/main/private_key' }))).toEqual({ status: 400, message: "Derive paths starting with 'wallet/eth/app/' are reserved" })
    expect(await refusal(await post('/v1/kms/derive', { path: '' }))).toEqual({ status: 400, message: "'path' must not be empty" })
    expect(await refusal(await post('/v1/kms/derive', { path: 'x', length: 0 }))).toEqual({ status: 400, message: "'length' must be in range 1..1024" })
    expect(await refusal(await post('/v1/kms/kv/put', { key: 'k', value: 'not base64!' }))).toEqual({ status: 400, message: "'value' is not valid base64" })
  })
})

describe('/v1/app-wallet: kept in the app\'s KV namespace', () => {
  it('behavior: the address is stable, stored under wallet/eth/app/main/address, and signatures recover to it', async () => {
    const first = await json<{ address: string; app_id: number; instance_wallet: string }>(await fetch(`${runtime.apiUrl}/v1/app-wallet/address`))
    const again = await json<{ address: string }>(await fetch(`${runtime.apiUrl}/v1/app-wallet/address`))
    expect(first).toMatchObject({ app_id: APP_ID, instance_wallet: getAddress(app.wallet) })
    expect(again.address).toBe(first.address)
    expect(first.address).not.toBe(getAddress(app.wallet))
    const stored = await json<{ value: string }>(await post('/v1/kms/kv/get', { key: 'wallet/eth/app/main/address' }))
    expect(`0x${bytesToHex(parseBase64(stored.value)!)}`).toBe(first.address.toLowerCase())
    const signed = await json<{ signature: Hex; address: string; app_id: number }>(await post('/v1/app-wallet/sign', { message: 'from the app wallet' }))
    expect(signed).toMatchObject({ address: first.address, app_id: APP_ID })
    expect(await recoverMessageAddress({ message: 'from the app wallet', signature: signed.signature })).toBe(first.address)
  })

  it('behavior: app-wallet sign-tx recovers to the app wallet', async () => {
    const { address } = await json<{ address: string }>(await fetch(`${runtime.apiUrl}/v1/app-wallet/address`))
    const payload = { kind: 'structured', chain_id: 31337, nonce: 0, max_priority_fee_per_gas: '0x1', max_fee_per_gas: '0x2', gas_limit: '0x5208', to: null, value: '0x0', data: '0x6000', access_list: [{ address: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', storage_keys: [`0x${'00'.repeat(31)}01`] }] }
    const answer = await json<{ raw_transaction: Hex; address: string; app_id: number }>(await post('/v1/app-wallet/sign-tx', { payload }))
    expect(answer).toMatchObject({ address, app_id: APP_ID })
    const decoded = parseTransaction(answer.raw_transaction)
    // A contract creation: no `to`.
    expect(decoded.to).toBeUndefined()
    expect(decoded).toMatchObject({ data: '0x6000', accessList: [{ address: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8', storageKeys: [`0x${'00'.repeat(31)}01`] }] })
    expect(await recoverTransactionAddress({ serializedTransaction: answer.raw_transaction as `0x02${string}` })).toBe(address)
  })

  it('behavior: a second instance of the same app gets the same app wallet', async () => {
    const sibling = await registerRuntimeApp(cluster.chain, APP_ID, { existingApp: true })
    const other = await spawnRuntime(writeDevnetFile(cluster.chain, [sibling]), APP_ID)
    try {
      const mine = await json<{ address: string }>(await fetch(`${runtime.apiUrl}/v1/app-wallet/address`))
      const theirs = await json<{ address: string; instance_wallet: string }>(await fetch(`${other.apiUrl}/v1/app-wallet/address`))
      expect(theirs.address).toBe(mine.address)
      expect(theirs.instance_wallet).toBe(getAddress(sibling.wallet))
    } finally {
      await other.stop()
    }
  })
})

describe('/v1/attestation and the Aux API', () => {
  it('behavior: raw CBOR that verifies against the dev root, with the nonce, the public key and injected user_data', async () => {
    const nonce = cryptoRandom.bytes(32)
    const response = await post('/v1/attestation', { nonce: bytesToBase64(nonce), user_data: { eth_addr: '0xspoofed', purpose: 'test' } })
    expect(response.headers.get('content-type')).toBe('application/cbor')
    const document = await verifyNitroAttestation(new Uint8Array(await response.arrayBuffer()), { at: Date.now(), maxAgeMs: 60_000, expectedNonce: nonce, trustedRoot: devRootCertificateDer(), allowDebugMode: true })
    expect(bytesToHex(document.publicKey!)).toBe(bytesToHex(app.teeKey.publicKey.der))
    const { address: appWallet } = await json<{ address: string }>(await fetch(`${runtime.apiUrl}/v1/app-wallet/address`))
    // Injected values win over the caller's.
    expect(JSON.parse(new TextDecoder().decode(document.userData!))).toEqual({ eth_addr: app.wallet, purpose: 'test', app_wallet: appWallet.toLowerCase() })
  })

  it('behavior: a PEM public_key is embedded on the API, stripped on the Aux API, which sends CORS headers', async () => {
    const pem = (await json<{ public_key_pem: string }>(await fetch(`${runtime.apiUrl}/v1/encryption/public_key`))).public_key_pem
    // The runtime's own PEM is a well-formed input: it comes back as the same DER.
    const onApi = await verifyNitroAttestation(new Uint8Array(await (await post('/v1/attestation', { public_key: pem })).arrayBuffer()), { at: Date.now(), trustedRoot: devRootCertificateDer(), allowDebugMode: true })
    expect(bytesToHex(onApi.publicKey!)).toBe(bytesToHex(app.teeKey.publicKey.der))
    const otherKey = (await generateP384PrivateKey(cryptoRandom)).publicKey.der
    const otherPem = `-----BEGIN PUBLIC KEY-----\n${bytesToBase64(otherKey)}\n-----END PUBLIC KEY-----\n`
    const embedded = await verifyNitroAttestation(new Uint8Array(await (await post('/v1/attestation', { public_key: otherPem })).arrayBuffer()), { at: Date.now(), trustedRoot: devRootCertificateDer(), allowDebugMode: true })
    expect(bytesToHex(embedded.publicKey!)).toBe(bytesToHex(otherKey))
    const aux = await post('/v1/attestation', { public_key: otherPem }, runtime.auxUrl)
    expect(aux.headers.get('access-control-allow-origin')).toBe('*')
    const stripped = await verifyNitroAttestation(new Uint8Array(await aux.arrayBuffer()), { at: Date.now(), trustedRoot: devRootCertificateDer(), allowDebugMode: true })
    expect(bytesToHex(stripped.publicKey!)).toBe(bytesToHex(app.teeKey.publicKey.der))
  })

  it('behavior: the Aux API serves only the address, attestation and the encryption public key', async () => {
    expect(await json(await fetch(`${runtime.auxUrl}/v1/eth/address`))).toEqual(await json(await fetch(`${runtime.apiUrl}/v1/eth/address`)))
    expect(await json(await fetch(`${runtime.auxUrl}/v1/encryption/public_key`))).toEqual(await json(await fetch(`${runtime.apiUrl}/v1/encryption/public_key`)))
    expect((await post('/v1/kms/derive', { path: 'x' }, runtime.auxUrl)).status).toBe(404)
    expect((await post('/v1/eth/sign', { message: 'x' }, runtime.auxUrl)).status).toBe(404)
    const preflight = await fetch(`${runtime.auxUrl}/v1/attestation`, { method: 'OPTIONS', headers: { origin: 'https://page.example', 'access-control-request-method': 'POST' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*')
  })
})

describe('/v1/encryption with a client key', () => {
  it('behavior: encrypt answers raw hex the client opens with the current label', async () => {
    const answer = await json<{ encrypted_data: string; enclave_public_key: string; nonce: string }>(await post('/v1/encryption/encrypt', { plaintext: 'to the client', client_public_key: `0x${bytesToHex(clientKey.publicKey.der)}` }))
    expect(answer.enclave_public_key).toBe(bytesToHex(app.teeKey.publicKey.der))
    expect(answer.nonce).toMatch(/^[0-9a-f]{24}$/)
    const plaintext = await decryptEnvelope({ privateKey: clientKey, peerPublicKey: parseP384PublicKey(parseHex(answer.enclave_public_key)!)!, nonce: parseHex(answer.nonce)!, ciphertext: parseHex(answer.encrypted_data)!, info: LABEL })
    expect(plaintext).toBe('to the client')
  })

  it('behavior: decrypt opens what the client sealed to the app key; the same nonce again is refused', async () => {
    const { public_key_der } = await json<{ public_key_der: string }>(await fetch(`${runtime.apiUrl}/v1/encryption/public_key`))
    const nonce = cryptoRandom.bytes(12)
    const ciphertext = await encryptEnvelope({ privateKey: clientKey, peerPublicKey: parseP384PublicKey(parseHex(public_key_der)!)!, nonce, plaintext: 'to the app', info: LABEL })
    const request = { nonce: bytesToHex(nonce), client_public_key: `0x${bytesToHex(clientKey.publicKey.der)}`, encrypted_data: `0x${bytesToHex(ciphertext)}` }
    expect(await json(await post('/v1/encryption/decrypt', request))).toEqual({ plaintext: 'to the app' })
    expect(await refusal(await post('/v1/encryption/decrypt', request))).toEqual({ status: 400, message: 'Nonce already used with this client key' })
  })

  it('error: a plaintext that is not UTF-8 is refused with its own message', async () => {
    const nonce = cryptoRandom.bytes(12)
    const key = await deriveEnvelopeKey({ privateKey: clientKey, peerPublicKey: app.teeKey.publicKey, nonce, info: LABEL })
    const aes = await crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, ['encrypt'])
    const ciphertext = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(nonce) }, aes, Uint8Array.of(0xff, 0xfe, 0x41)))
    const request = { nonce: bytesToHex(nonce), client_public_key: bytesToHex(clientKey.publicKey.der), encrypted_data: bytesToHex(ciphertext) }
    expect(await refusal(await post('/v1/encryption/decrypt', request))).toEqual({ status: 400, message: 'Decrypted plaintext is not valid UTF-8' })
  })
})

describe('bad input: a 4xx with a message, never a 500', () => {
  it.each([
    ['a body that is not UTF-8', '/v1/eth/sign', Uint8Array.of(0x7b, 0xff, 0x7d), 400, 'Request body is not valid UTF-8'],
    ['a body that is not JSON', '/v1/eth/sign', '{"message":', 400, 'Request body is not valid JSON'],
    ['a JSON array', '/v1/kms/derive', '[]', 400, 'Request body must be a JSON object'],
    ['a message with a lone surrogate', '/v1/eth/sign', '{"message":"\\ud800"}', 400, "'message' is not valid UTF-8"],
    ['an empty message', '/v1/eth/sign', { message: '' }, 400, "'message' must not be empty"],
    ['bad hex', '/v1/encryption/decrypt', { nonce: 'zz', client_public_key: '00', encrypted_data: '00' }, 400, "'nonce' is not valid hex"],
    ['a nonce of the wrong length', '/v1/encryption/decrypt', { nonce: '0x0102', client_public_key: '00', encrypted_data: '00' }, 400, "'nonce' must be 12 bytes (or a legacy 32), got 2"],
    ['a client key that is not P-384', '/v1/encryption/encrypt', { plaintext: 'x', client_public_key: '0x0102' }, 400, "'client_public_key' must be a P-384 public key (DER SPKI or SEC1 uncompressed)"],
    ['a bad attestation nonce', '/v1/attestation', { nonce: '***' }, 400, "'nonce' is not valid base64"],
    ['a bad PEM', '/v1/attestation', { public_key: 'not a pem' }, 400, "'public_key' must be a PEM public key"],
    ['user_data that is not an object', '/v1/attestation', { user_data: [1] }, 400, "'user_data' must be a JSON object"],
    ['a fractional number in user_data', '/v1/attestation', { user_data: { x: 1.5 } }, 400, "'user_data' may hold only strings, integers, booleans, null, arrays and objects (nesting up to 64)"],
    ['an unknown transaction kind', '/v1/eth/sign-tx', { payload: { kind: 'legacy' } }, 400, "'payload.kind' must be 'structured' or 'raw_rlp'"],
    ['a priority fee above the max fee', '/v1/eth/sign-tx', { payload: { kind: 'structured', chain_id: 1, max_priority_fee_per_gas: '0x2', max_fee_per_gas: '0x1', gas_limit: 21000 } }, 400, undefined],
    ['raw_rlp that is not RLP', '/v1/eth/sign-tx', { payload: { kind: 'raw_rlp', raw_payload: '0x02ff' } }, 400, "'raw_payload' is not a valid EIP-1559 transaction"],
    ['a legacy raw transaction', '/v1/eth/sign-tx', { payload: { kind: 'raw_rlp', raw_payload: '0xf86c' } }, 400, "'raw_payload' must be an EIP-1559 transaction (type 0x02)"],
  ] as const)('error: %s', async (_, path, body, status, message) => {
    const answer = await refusal(await post(path, body as never))
    expect(answer.status).toBe(status)
    if (message !== undefined) expect(answer.message).toBe(message)
    else expect(answer.message).toMatch(/^Invalid transaction: /)
  })

  it('error: a body over 10 MiB is 413', async () => {
    const answer = await refusal(await post('/v1/eth/sign', JSON.stringify({ message: 'x'.repeat(10 * 1024 * 1024 + 1) })))
    expect(answer).toEqual({ status: 413, message: 'Request body exceeds 10 MiB' })
  })
})

describe('KMS down (stops the nodes, so it runs last)', () => {
  it('error: with every node stopped, /v1/kms/derive is 503 with Retry-After: 10', async () => {
    await Promise.all(cluster.members.map((member) => member.node.stop()))
    const response = await post('/v1/kms/derive', { path: 'wallet/root' })
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('10')
    expect(await response.text()).toBe('No KMS node answered after 3 rounds')
  })
})

function registry() {
  return createChainReaders({ rpcUrl: cluster.chain.rpcUrl, novaAppRegistry: cluster.chain.addresses.novaAppRegistry, kmsRegistry: cluster.chain.addresses.kmsRegistry }).novaAppRegistry
}
