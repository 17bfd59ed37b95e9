/**
 * `/sync` as a registered peer (PROTOCOL §4): a second KMS instance whose TEE is a local
 * stand-in, registered on-chain, pushing hostile deltas to the in-process node through the
 * real requester (`SyncClient.pushDelta`), with the sync key of a `KeyRing` that holds the
 * cluster's master secret.
 *
 * The requester writes its envelope plaintext as canonical JSON, which holds only safe
 * integers and writes strings literally. The hostile parts it would refuse or alter (floats,
 * `1e309`, unsafe integers, lone surrogates, duplicates, deep nesting) go in as placeholders
 * (`withPlaceholders`) and are put back by the lane's TEE just before encryption, so the node
 * parses exactly the hostile JSON; the HMAC and the PoP cover the envelope as sent.
 *
 * @module
 */
import type { Address, Hex } from 'viem'
import { SyncClient, type Peer } from '../../core/cluster'
import { bytesToHex, parseHex, type Wallet } from '../../core/encoding'
import { KeyRing } from '../../core/keys'
import { runDueTicks } from '../../core/nodeTicks'
import type { Clock } from '../../core/runtime'
import { KvStore, type IngestResult, type WireData } from '../../core/store'
import { createLocalTee, type Tee } from '../../core/tee'
import type { DevChain } from '../helpers/devChain'
import { FUZZ_LIMITS, type DeltaSpec, type RecordSpec } from './_arbitraries'
import { MASTER_SECRET_HEX, random, type InProcessNode, type Outcome } from './_harness'
import { describeCase, jsonText, restorePlaceholders, withPlaceholders, type J } from './_json'

export interface SyncPeer {
  target: InProcessNode
  clock: Clock
  /** The app whose namespace most records go to (the one the SDK client reads). */
  fuzzAppId: number
  peerTee: Tee
  peerWallet: Wallet
  ring: KeyRing
  /** The node as the peer cache lists it: where the pushes go. */
  self: Peer
}

/** Registers a second KMS instance and ticks the node until its peer cache lists it. */
export async function createSyncPeer(chain: DevChain, target: InProcessNode, clock: Clock, fuzzAppId: number): Promise<SyncPeer> {
  const peerTee = await createLocalTee({ random })
  const peerWallet = await peerTee.getWallet()
  await chain.registerInstance({
    teeWalletAddress: peerWallet as Address,
    teePubkey: `0x${bytesToHex(await peerTee.getEncryptionPublicKey())}` as Hex,
    instanceUrl: 'http://peer-2.fuzz.test',
  })
  // The node learns of the peer on its next tick (its cold-start pull from it just fails).
  await runDueTicks(target.node, 'node_tick')
  if (target.node.peers.find(peerWallet) === undefined) throw new Error('the node did not pick up the registered peer')
  if (!target.node.readiness.available) throw new Error(`node unavailable after the peer tick: ${target.node.readiness.reason}`)
  const ring = new KeyRing({ kmsAppId: target.node.config.kmsAppId })
  await ring.install(parseHex(MASTER_SECRET_HEX)!, 'generated')
  return { target, clock, fuzzAppId, peerTee, peerWallet, ring, self: target.node.peers.find(target.wallet)! }
}

/** One requester lane: its own SyncClient, whose TEE puts raw JSON back, and whose fetch keeps the last /sync answer. */
export interface Lane {
  client: SyncClient
  raws: string[]
  last: { status: number; body: string } | undefined
}

export function newLane(peer: SyncPeer): Lane {
  const lane: Lane = { client: undefined as unknown as SyncClient, raws: [], last: undefined }
  const tee: Pick<Tee, 'signMessage' | 'encrypt' | 'decrypt' | 'getAttestation' | 'getEncryptionPublicKey'> = {
    signMessage: (message) => peer.peerTee.signMessage(message),
    getAttestation: (request) => peer.peerTee.getAttestation(request),
    getEncryptionPublicKey: () => peer.peerTee.getEncryptionPublicKey(),
    decrypt: (params) => peer.peerTee.decrypt(params),
    encrypt: (plaintext, receiver) => peer.peerTee.encrypt(restorePlaceholders(plaintext, lane.raws), receiver),
  }
  const laneFetch: typeof fetch = async (input, init) => {
    const response = await peer.target.fetch(input, init)
    if (String(input instanceof Request ? input.url : input).endsWith('/sync')) lane.last = { status: response.status, body: await response.clone().text() }
    return response
  }
  lane.client = new SyncClient({
    fetch: laneFetch,
    tee,
    clock: peer.clock,
    random,
    ownWallet: () => peer.peerWallet,
    peerAttestation: { policy: () => peer.target.node.peerAttestationPolicy() },
    signSyncBody: (envelope, nonce) => peer.ring.signSyncBody(envelope, nonce),
    store: { ingest: async () => ({ total: 0, merged: 0, skipped: 0, rejected: 0, skip_reasons: {} }) },
    canDecrypt: peer.ring.canDecrypt,
  })
  return lane
}

export function strangerWallet(index: number): Wallet {
  return `0x${(index + 1).toString(16).padStart(40, '0')}` as Wallet
}

function define(target: Record<string, J>, name: string, value: J | undefined): void {
  // `__proto__` by assignment would set the prototype, not a member.
  if (value !== undefined) Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true })
}

/** A record spec made concrete at push time: ciphertexts sealed, times relative to now. */
async function materializeRecord(peer: SyncPeer, spec: RecordSpec, appId: number, nowMs: number): Promise<J> {
  const seal = (forApp: number, plaintextBytes: number): Promise<Uint8Array> => peer.ring.encryptValue(forApp, random.bytes(plaintextBytes), random.bytes(12))
  const out: Record<string, J> = {}
  for (const [name, value] of Object.entries(spec.extra)) define(out, name, value)
  define(out, 'key', spec.key)
  const value = spec.value
  if ('json' in value) define(out, 'value', value.json)
  else if (value.ciphertext === 'own_app') {
    const hex = bytesToHex(await seal(appId, value.plaintextBytes))
    define(out, 'value', value.hexCase === 'upper' ? hex.toUpperCase() : value.hexCase === '0x' ? `0x${hex}` : hex)
  } else if (value.ciphertext === 'other_app') {
    define(out, 'value', bytesToHex(await seal(appId === peer.fuzzAppId ? peer.fuzzAppId + 1 : peer.fuzzAppId, value.plaintextBytes)))
  } else if (value.ciphertext === 'random') define(out, 'value', bytesToHex(random.bytes(value.bytes)))
  else {
    const sealed = await seal(appId, value.plaintextBytes)
    define(out, 'value', bytesToHex(sealed.subarray(0, Math.max(0, sealed.length - value.cut))))
  }
  const version = spec.version
  if ('json' in version) define(out, 'version', version.json)
  else if ('many' in version) {
    define(out, 'version', Object.fromEntries(Array.from({ length: version.many }, (_, index) => [strangerWallet(1000 + index), 1])))
  } else {
    const entries: Record<string, J> = {}
    for (const [ref, entry] of version.entries) {
      const wallet = typeof ref === 'object' ? ref.key : ref === 'peer' ? peer.peerWallet : ref === 'node' ? peer.target.wallet : strangerWallet(0)
      define(entries, wallet, entry)
    }
    define(out, 'version', entries)
  }
  define(out, 'updated_at_ms', 'relativeMs' in spec.updatedAt ? nowMs + spec.updatedAt.relativeMs : spec.updatedAt.json)
  define(out, 'tombstone', spec.tombstone)
  define(out, 'ttl_ms', spec.ttl)
  return out
}

export async function materializeDelta(peer: SyncPeer, spec: DeltaSpec): Promise<J> {
  if (spec.dataOverride !== undefined) return spec.dataOverride
  const nowMs = peer.clock.nowMs()
  const data: Record<string, J> = {}
  for (const group of spec.groups) {
    const name = 'app' in group.name ? String(group.name.app === 'fuzz' ? peer.fuzzAppId : group.name.id) : group.name.name
    const appId = 'app' in group.name && group.name.app === 'other' ? group.name.id : peer.fuzzAppId
    const records = 'json' in group.records ? group.records.json : await Promise.all(group.records.map((record) => materializeRecord(peer, record, appId, nowMs)))
    define(data, name, records)
  }
  return data
}

/** §4.3: records are counted in every array group, whatever its name; nothing else is. */
export function expectedTotal(dataText: string): number {
  const data: unknown = JSON.parse(dataText)
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 0
  return Object.values(data).reduce((sum: number, group: unknown) => sum + (Array.isArray(group) ? group.length : 0), 0)
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** A delta answer's counts (§4.3): non-negative, `total = merged + skipped + rejected`, every record counted. */
function countsProblem(answer: Record<string, unknown>, total: number): string | undefined {
  const { status, merged, skipped, rejected, skip_reasons: reasons } = answer
  if (status !== 'ok') return `status ${String(status)}`
  if (!isCount(answer['total']) || !isCount(merged) || !isCount(skipped) || !isCount(rejected)) return 'counts are not non-negative integers'
  if (answer['total'] !== merged + skipped + rejected) return 'total ≠ merged + skipped + rejected'
  if (answer['total'] !== total) return `total ${String(answer['total'])} ≠ ${total} records sent`
  if (typeof reasons !== 'object' || reasons === null) return 'no skip_reasons'
  const skippedByReason = Object.values(reasons).reduce((sum: number, count: unknown) => sum + (isCount(count) ? count : Number.NaN), 0)
  if (skippedByReason !== skipped) return 'skip_reasons do not add up to skipped'
  return undefined
}

/**
 * Pushes one hostile delta. A 2xx must carry consistent counts; a refusal must be a 4xx with
 * a `{code,message}` body or a designed 503.
 * @returns the outcome, the node's counts for a 2xx, and the data as sent when the outcome is a finding.
 */
export async function pushDelta(
  peer: SyncPeer,
  lane: Lane,
  spec: DeltaSpec,
): Promise<{ outcome: Outcome; data?: string; counts?: { total: number; merged: number; skipped: number; rejected: number } }> {
  const data = await materializeDelta(peer, spec)
  const dataText = jsonText(data)
  lane.raws = []
  lane.last = undefined
  const wireData = withPlaceholders(data, lane.raws) as WireData
  try {
    const answer = await lane.client.pushDelta(peer.self, wireData)
    const problem = countsProblem(answer, expectedTotal(dataText))
    if (problem !== undefined) return { outcome: { kind: 'bad', why: `delta answer: ${problem}: ${describeCase(answer)}` }, data: dataText }
    const counts = { total: answer['total'] as number, merged: answer['merged'] as number, skipped: answer['skipped'] as number, rejected: answer['rejected'] as number }
    return { outcome: { kind: '2xx', status: (lane.last as Lane['last'])?.status ?? 200 }, counts }
  } catch (error) {
    const last = lane.last as Lane['last']
    if (last === undefined) {
      return { outcome: { kind: 'bad', why: `no /sync answer: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` }, data: dataText }
    }
    let body: { code?: unknown; message?: unknown } = {}
    try {
      body = JSON.parse(last.body) as typeof body
    } catch {
      // the wire check reports the shape
    }
    const code = typeof body.code === 'string' ? body.code : ''
    const message = typeof body.message === 'string' ? body.message : ''
    if (last.status >= 400 && last.status < 500 && code !== '') return { outcome: { kind: '4xx', status: last.status, code, message } }
    if (last.status === 503 && (code === 'service_unavailable' || code === 'registry_unavailable')) return { outcome: { kind: 'designed503', code, message } }
    return { outcome: { kind: 'bad', why: `status ${last.status}`, status: last.status, code, message }, data: dataText }
  }
}

/**
 * Pulls the node's whole store as the peer would on joining (`snapshot_request`, page by page
 * (§4.3): the requester's MAX_SYNC_PAYLOAD_BYTES is set so that each page holds the 64 KiB
 * minimum) into a fresh store with the node's limits, through `SyncClient.pullSnapshotCounts`.
 */
export async function pullSnapshot(peer: SyncPeer): Promise<{ counts: IngestResult; store: KvStore; pages: number }> {
  const store = new KvStore({
    clock: peer.clock,
    nodeWallet: () => peer.peerWallet,
    limits: {
      maxAppStorageBytes: FUZZ_LIMITS.MAX_APP_STORAGE_BYTES,
      maxValueSizeBytes: FUZZ_LIMITS.MAX_KV_VALUE_SIZE_BYTES,
      tombstoneRetentionMs: 86_400_000,
      maxTombstonesPerApp: FUZZ_LIMITS.MAX_TOMBSTONES_PER_APP,
      maxClockSkewMs: FUZZ_LIMITS.MAX_CLOCK_SKEW_MS,
      maxRecordsPerApp: FUZZ_LIMITS.MAX_RECORDS_PER_APP,
    },
  })
  let pages = 0
  const client = new SyncClient({
    fetch: async (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith('/sync')) pages++
      return peer.target.fetch(input, init)
    },
    tee: peer.peerTee,
    clock: peer.clock,
    random,
    ownWallet: () => peer.peerWallet,
    peerAttestation: { policy: () => peer.target.node.peerAttestationPolicy() },
    signSyncBody: (envelope, nonce) => peer.ring.signSyncBody(envelope, nonce),
    store,
    canDecrypt: peer.ring.canDecrypt,
    maxSyncPayloadBytes: 2 * (65_536 + 4096),
  })
  const counts = await client.pullSnapshotCounts(peer.self)
  return { counts, store, pages }
}
