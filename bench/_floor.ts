/**
 * The crypto floor (DESIGN §6): the cryptographic operations one request cannot avoid, run
 * back to back in this process with the project's own functions. A served request can only
 * be slower; the ratio says how much of a request is crypto and how much is everything else
 * (HTTP, JSON, routing, the /nonce round trip, scheduling).
 *
 * Each iteration is timed in two parts: what the client must do and what the node must do,
 * so that the node's own throughput can be compared with the node's share alone.
 */
import {
  buildAppAuthMessage,
  buildResponseMessage,
  decryptEnvelope,
  decryptRecord,
  deriveAppKey,
  deriveDataKey,
  encryptEnvelope,
  encryptRecord,
  generateP384PrivateKey,
  generateWalletPrivateKey,
  hashEip191Message,
  importRecordKey,
  KnownSigners,
  parseP384PublicKey,
  privateKeyToWallet,
  recoverMessageSigner,
  signMessageWithKey,
  type P384PrivateKey,
  type RecordKey,
} from '../core/crypto'
import { aesGcmOpen, aesGcmSeal, importAesGcmKey, useNativeAesGcm } from '../core/crypto/_aesGcm'
import { createNodeAesGcm } from '../bundle/nativeAesGcm'
import { hkdfSha256 } from '../core/crypto/hkdfSha256'
import { bytesToBase64, canonicalJson, concatBytes, parseHex, utf8ToBytes, type Wallet } from '../core/encoding'
import { nowSeconds } from '../core/runtime'
import { cryptoRandom, systemClock } from '../test/helpers/kmsNodes'
import { log, median, round, selfCpuMs, sleep } from './_harness'
import { MASTER_SECRET_HEX } from './_nodes'

const APP_ID = 1000

export interface FloorKeys {
  appWalletKey: Uint8Array
  appTee: P384PrivateKey
  nodeWalletKey: Uint8Array
  nodeWallet: Wallet
  nodeTee: P384PrivateKey
  masterSecret: Uint8Array
  recordKey: RecordKey
  /** A stored value: 100 B of plaintext sealed as a record (128 B). */
  storedRecord: Uint8Array
}

export async function makeFloorKeys(): Promise<FloorKeys> {
  const masterSecret = parseHex(MASTER_SECRET_HEX)!
  const recordKey = await importRecordKey(await deriveDataKey(masterSecret, APP_ID))
  const nodeWalletKey = generateWalletPrivateKey(cryptoRandom)
  return {
    appWalletKey: generateWalletPrivateKey(cryptoRandom),
    appTee: await generateP384PrivateKey(cryptoRandom),
    nodeWalletKey,
    nodeWallet: privateKeyToWallet(nodeWalletKey),
    nodeTee: await generateP384PrivateKey(cryptoRandom),
    masterSecret,
    recordKey,
    storedRecord: await encryptRecord(recordKey, cryptoRandom.bytes(100), cryptoRandom.bytes(12)),
  }
}

/** What one iteration spent on each side: wall time, and CPU time of this process (all threads). */
export interface Split {
  clientMs: number
  nodeMs: number
  clientCpuMs: number
  nodeCpuMs: number
}

/** Client, before sending: PoP over a fresh nonce, and (with a body) the request envelope. */
async function clientSends(keys: FloorKeys, inner: unknown): Promise<{ message: string; signature: string; nonce: Uint8Array; sealed: Uint8Array | undefined }> {
  const message = buildAppAuthMessage({ nonce: bytesToBase64(cryptoRandom.bytes(16)), wallet: keys.nodeWallet, timestamp: nowSeconds(systemClock) })
  const signature = signMessageWithKey(keys.appWalletKey, message)
  const nonce = cryptoRandom.bytes(12)
  const sealed =
    inner === undefined
      ? undefined
      : await encryptEnvelope({ privateKey: keys.appTee, peerPublicKey: keys.nodeTee.publicKey, nonce, plaintext: canonicalJson(inner) })
  return { message, signature, nonce, sealed }
}

/** Node, first half: recover the PoP signer, open the request envelope. */
async function nodeReceives(keys: FloorKeys, sent: Awaited<ReturnType<typeof clientSends>>): Promise<Record<string, unknown>> {
  recoverMessageSigner(sent.message, sent.signature)
  if (sent.sealed === undefined) return {}
  const plaintext = await decryptEnvelope({ privateKey: keys.nodeTee, peerPublicKey: keys.appTee.publicKey, nonce: sent.nonce, ciphertext: sent.sealed })
  return JSON.parse(plaintext) as Record<string, unknown>
}

/** Node, second half: counter-sign, seal the answer. */
async function nodeAnswers(keys: FloorKeys, popSignature: string, answer: unknown): Promise<{ signature: string; nonce: Uint8Array; sealed: Uint8Array }> {
  const signature = signMessageWithKey(keys.nodeWalletKey, buildResponseMessage({ signature: popSignature, wallet: keys.nodeWallet }))
  const nonce = cryptoRandom.bytes(12)
  const sealed = await encryptEnvelope({ privateKey: keys.nodeTee, peerPublicKey: keys.appTee.publicKey, nonce, plaintext: canonicalJson(answer) })
  return { signature, nonce, sealed }
}

/** Client, on the answer: the counter-signature must recover to the node, then open. */
async function clientReceives(keys: FloorKeys, popSignature: string, answer: Awaited<ReturnType<typeof nodeAnswers>>): Promise<void> {
  const signer = recoverMessageSigner(buildResponseMessage({ signature: popSignature, wallet: keys.nodeWallet }), answer.signature)
  if (signer !== keys.nodeWallet) throw new Error('floor: counter-signature does not recover to the node')
  await decryptEnvelope({ privateKey: keys.appTee, peerPublicKey: keys.nodeTee.publicKey, nonce: answer.nonce, ciphertext: answer.sealed })
}

/**
 * One request's crypto: `inner` is the request body (undefined: no body, as GET /kms/data),
 * `serve` the route's own crypto, returning the answer.
 */
async function oneRequest(keys: FloorKeys, inner: unknown, serve: (payload: Record<string, unknown>) => Promise<unknown>): Promise<Split> {
  // Wall time differs from CPU time on a loaded machine (waiting for a core) and because
  // WebCrypto jobs run on libuv's pool; node-side CPU is what compares with the node's own.
  const t0 = performance.now()
  const c0 = selfCpuMs()
  const sent = await clientSends(keys, inner)
  const t1 = performance.now()
  const c1 = selfCpuMs()
  const payload = await nodeReceives(keys, sent)
  const answer = await nodeAnswers(keys, sent.signature, await serve(payload))
  const t2 = performance.now()
  const c2 = selfCpuMs()
  await clientReceives(keys, sent.signature, answer)
  const t3 = performance.now()
  const c3 = selfCpuMs()
  return { clientMs: t1 - t0 + (t3 - t2), nodeMs: t2 - t1, clientCpuMs: c1 - c0 + (c3 - c2), nodeCpuMs: c2 - c1 }
}

/** derive: + HKDF (§5.2). */
export function deriveIteration(keys: FloorKeys): Promise<Split> {
  return oneRequest(keys, { path: 'bench/derive', context: 'floor' }, async (payload) => {
    const key = await deriveAppKey({ masterSecret: keys.masterSecret, appId: APP_ID, path: String(payload['path']), context: String(payload['context']), length: 32 })
    return { app_id: APP_ID, path: payload['path'], key: bytesToBase64(key), length: 32 }
  })
}

/** KV get: no request body, + AES-GCM record decrypt (§5.3). */
export function getIteration(keys: FloorKeys): Promise<Split> {
  return oneRequest(keys, undefined, async () => {
    const value = await decryptRecord(keys.recordKey, keys.storedRecord)
    return { app_id: APP_ID, key: 'bench/key', value: bytesToBase64(value), updated_at_ms: Date.now() }
  })
}

/** KV put: request body with 100 B of value, + AES-GCM record encrypt. */
export function putIteration(keys: FloorKeys): Promise<Split> {
  const value = bytesToBase64(cryptoRandom.bytes(100))
  return oneRequest(keys, { key: 'bench/key', value }, async (payload) => {
    await encryptRecord(keys.recordKey, cryptoRandom.bytes(100), cryptoRandom.bytes(12))
    return { app_id: APP_ID, key: payload['key'], updated_at_ms: Date.now() }
  })
}

export interface FloorResult {
  /** Whole requests' crypto per second, client and node sides together, one thread. */
  ops_per_second: number
  /** The node's share alone, as a rate: an upper bound for one node process. */
  node_side_ops_per_second: number
  client_side_ops_per_second: number
  node_us_per_op: number
  client_us_per_op: number
  /** CPU per op (all threads of this process): compares with a node's CPU per request. */
  node_cpu_us_per_op: number
  client_cpu_us_per_op: number
  rounds_ops_per_second: number[]
}

/** Runs `iteration` back to back: a warm-up, then `rounds` rounds of `roundMs`; medians. */
export async function measureFloor(label: string, iteration: () => Promise<Split>, rounds = 5, roundMs = 600): Promise<FloorResult> {
  type Totals = { count: number; elapsed: number } & Split
  const runFor = async (ms: number): Promise<Totals> => {
    const totals: Totals = { count: 0, elapsed: 0, clientMs: 0, nodeMs: 0, clientCpuMs: 0, nodeCpuMs: 0 }
    const started = performance.now()
    while (performance.now() - started < ms) {
      const split = await iteration()
      totals.clientMs += split.clientMs
      totals.nodeMs += split.nodeMs
      totals.clientCpuMs += split.clientCpuMs
      totals.nodeCpuMs += split.nodeCpuMs
      totals.count++
    }
    totals.elapsed = performance.now() - started
    return totals
  }
  await runFor(300)
  const measured: Totals[] = []
  for (let index = 0; index < rounds; index++) {
    measured.push(await runFor(roundMs))
    await sleep(20) // let the event loop breathe between rounds
  }
  const perOpUs = (pick: (totals: Totals) => number): number => median(measured.map((m) => (pick(m) * 1000) / m.count))
  const nodeUs = perOpUs((m) => m.nodeMs)
  const clientUs = perOpUs((m) => m.clientMs)
  const result: FloorResult = {
    ops_per_second: round(median(measured.map((m) => (m.count * 1000) / m.elapsed))),
    node_side_ops_per_second: round(1e6 / nodeUs),
    client_side_ops_per_second: round(1e6 / clientUs),
    node_us_per_op: round(nodeUs),
    client_us_per_op: round(clientUs),
    node_cpu_us_per_op: round(perOpUs((m) => m.nodeCpuMs)),
    client_cpu_us_per_op: round(perOpUs((m) => m.clientCpuMs)),
    rounds_ops_per_second: measured.map((m) => round((m.count * 1000) / m.elapsed)),
  }
  log(`floor ${label}: ${result.ops_per_second} ops/s (node side ${result.node_us_per_op} µs, client side ${result.client_us_per_op} µs)`)
  return result
}

/** The node's AES-GCM (bundle/node.ts installs the same), for the primitives the node runs. */
const nodeAesGcm = createNodeAesGcm()
async function onWebCrypto<T>(run: () => Promise<T>): Promise<T> {
  useNativeAesGcm(undefined)
  try {
    return await run()
  } finally {
    useNativeAesGcm(nodeAesGcm)
  }
}

/**
 * What each primitive costs on its own (µs, median of 3 short runs), to say where a floor's
 * time goes. Includes P-384 point validation, which is not in the floor but runs several
 * times per request in the SDK and the node (each parse of a teePubkey validates the point).
 */
export async function measurePrimitives(keys: FloorKeys): Promise<Record<string, number>> {
  // The node's AES-GCM is OpenSSL's, called directly (bundle/nativeAesGcm.ts), so these are
  // measured on it, WebCrypto beside them; the rest of the bench (its SDK clients) stays on
  // WebCrypto, as the SDK is everywhere.
  useNativeAesGcm(nodeAesGcm)
  try {
    return await measureEachPrimitive(keys)
  } finally {
    useNativeAesGcm(undefined)
  }
}

async function measureEachPrimitive(keys: FloorKeys): Promise<Record<string, number>> {
  const recordKey = await importRecordKey(await deriveDataKey(keys.masterSecret, APP_ID))
  const storedRecord = await encryptRecord(recordKey, cryptoRandom.bytes(100), cryptoRandom.bytes(12))
  const message = buildAppAuthMessage({ nonce: bytesToBase64(cryptoRandom.bytes(16)), wallet: keys.nodeWallet, timestamp: nowSeconds(systemClock) })
  const signature = signMessageWithKey(keys.appWalletKey, message)
  // The node's path for a signer it has seen before (core/crypto/knownSigners.ts): warmed by
  // the two recoveries that build the app wallet's table.
  const appWallet = privateKeyToWallet(keys.appWalletKey)
  const knownSigners = new KnownSigners()
  for (let round = 0; round < 2; round++) knownSigners.recover(message, signature, appWallet)
  const nonce = cryptoRandom.bytes(12)
  const plaintext = canonicalJson({ path: 'bench/derive', context: 'floor' })
  const sealed = await encryptEnvelope({ privateKey: keys.appTee, peerPublicKey: keys.nodeTee.publicKey, nonce, plaintext })
  const value = cryptoRandom.bytes(100)
  // The envelope's own HKDF and AES-GCM (§10.2), apart from its ECDH, which is cached: Z is
  // 48 bytes, the salt both SEC1 keys and N, and K is imported afresh for every message.
  const sharedSecret = cryptoRandom.bytes(48)
  const envelopeSalt = concatBytes(keys.appTee.publicKey.sec1, keys.nodeTee.publicKey.sec1, nonce)
  const envelopeInfo = utf8ToBytes('capsule-ecdh-aes256gcm-v1')
  const envelopeKeyBytes = await hkdfSha256({ ikm: sharedSecret, salt: envelopeSalt, info: envelopeInfo, length: 32 })
  const envelopePlaintext = utf8ToBytes(plaintext)
  const envelopeSealed = await aesGcmSeal(await importAesGcmKey(envelopeKeyBytes, 'K'), nonce, envelopePlaintext)
  const primitives: Record<string, () => unknown> = {
    secp256k1_sign_eip191: () => signMessageWithKey(keys.appWalletKey, message),
    secp256k1_recover_eip191: () => recoverMessageSigner(message, signature),
    secp256k1_confirm_known_signer_eip191: () => knownSigners.recover(message, signature, appWallet),
    keccak_eip191_hash: () => hashEip191Message(message),
    envelope_encrypt_p384_ecdh_hkdf_aesgcm: () => encryptEnvelope({ privateKey: keys.appTee, peerPublicKey: keys.nodeTee.publicKey, nonce, plaintext }),
    envelope_decrypt_p384_ecdh_hkdf_aesgcm: () => decryptEnvelope({ privateKey: keys.nodeTee, peerPublicKey: keys.appTee.publicKey, nonce, ciphertext: sealed }),
    hkdf_derive_app_key: () => deriveAppKey({ masterSecret: keys.masterSecret, appId: APP_ID, path: 'bench/derive', context: 'floor', length: 32 }),
    aesgcm_record_encrypt_100b: () => encryptRecord(recordKey, value, nonce),
    aesgcm_record_decrypt_100b: () => decryptRecord(recordKey, storedRecord),
    p384_public_key_parse_validate: () => parseP384PublicKey(keys.appTee.publicKey.der),
    hkdf_envelope_key: () => hkdfSha256({ ikm: sharedSecret, salt: envelopeSalt, info: envelopeInfo, length: 32 }),
    aesgcm_envelope_import_and_seal: async () => aesGcmSeal(await importAesGcmKey(envelopeKeyBytes, 'K'), nonce, envelopePlaintext),
    aesgcm_envelope_import_and_open: async () => aesGcmOpen(await importAesGcmKey(envelopeKeyBytes, 'K'), nonce, envelopeSealed),
    // The same two on WebCrypto, which the node used before it called OpenSSL directly
    // (bundle/nativeAesGcm.ts) and which workerd and browsers still use.
    aesgcm_envelope_import_and_seal_webcrypto: () => onWebCrypto(async () => aesGcmSeal(await importAesGcmKey(envelopeKeyBytes, 'K'), nonce, envelopePlaintext)),
    aesgcm_envelope_import_and_open_webcrypto: () => onWebCrypto(async () => aesGcmOpen(await importAesGcmKey(envelopeKeyBytes, 'K'), nonce, envelopeSealed)),
  }
  const result: Record<string, number> = {}
  for (const [name, run] of Object.entries(primitives)) {
    const runs: number[] = []
    for (let attempt = 0; attempt < 3; attempt++) {
      let count = 0
      const started = performance.now()
      while (performance.now() - started < 150) {
        await run()
        count++
      }
      runs.push(((performance.now() - started) * 1000) / count)
    }
    result[name] = round(median(runs), 1)
  }
  log(`primitives (µs): ${JSON.stringify(result)}`)
  return result
}

/**
 * Issue 14's floor for one derive, from primitives measured in the same run: the node must
 * recover the PoP signer, sign its answer, run three HKDFs (the derived key and the two
 * envelope keys) and two AES-GCMs (open the request, seal the answer). The ECDH is cached.
 * Nothing else is cryptographically necessary; everything above it is HTTP, JSON, routing,
 * the /nonce round trip and the node's own checks.
 */
export function irreducibleCryptoMsPerDerive(primitivesUs: Record<string, number>): { ms: number; parts_us: Record<string, number>; known_signer_ms: number } {
  const parts_us = {
    secp256k1_recover: primitivesUs['secp256k1_recover_eip191']!,
    secp256k1_sign: primitivesUs['secp256k1_sign_eip191']!,
    hkdf_derive: primitivesUs['hkdf_derive_app_key']!,
    hkdf_envelope_open: primitivesUs['hkdf_envelope_key']!,
    hkdf_envelope_seal: primitivesUs['hkdf_envelope_key']!,
    aesgcm_open: primitivesUs['aesgcm_envelope_import_and_open']!,
    aesgcm_seal: primitivesUs['aesgcm_envelope_import_and_seal']!,
  }
  const totalUs = Object.values(parts_us).reduce((sum, us) => sum + us, 0)
  // The same floor when the signer is known: its table answers instead of a recovery.
  const knownSignerUs = totalUs - parts_us.secp256k1_recover + primitivesUs['secp256k1_confirm_known_signer_eip191']!
  return { ms: round(totalUs / 1000, 3), parts_us, known_signer_ms: round(knownSignerUs / 1000, 3) }
}
