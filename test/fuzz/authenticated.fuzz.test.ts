/**
 * Authenticated fuzzing (issue 12, "Tests that must exist"): fast-check over every `/kms/*`
 * route with valid PoP (binding v2) and envelopes and hostile inner payloads, and over
 * `/sync` as a registered peer with hostile records; at least 10,000 cases per run in total,
 * and no 5xx but the designed 503s (PROTOCOL §12.4: 500 is "bugs only; no input may
 * trigger it").
 *
 * The node is real (`KmsNode.create`, dev mode, anvil with the real contracts) and served in
 * process (`createPipeline(ALL_FUNCTIONS)` through `app.fetch`), with the rate limits off so
 * that throughput is the crypto's; `limits.test.ts` checks that the limits hold. The seed is
 * fixed, so CI is deterministic; `FUZZ_SEED=<n>` runs another one, and `FUZZ_SCALE=<x>`
 * scales the number of cases (the ≥ 10,000 check applies at scale ≥ 1).
 *
 * A case's answer must be a 2xx, a 4xx bound to the request (a `KmsClientError` with its
 * status, code and message), or a designed 503: never another 5xx, never a thrown error of
 * another kind, and never an unbound answer, except the pipeline's refusals before any route
 * authenticates (404, 405, 413, 429: a path key like `../derive` normalises out of
 * /kms/data). Every answer is also checked on the wire (`wire`): a non-2xx body is exactly
 * `{"code","message"}`. A failure prints the failing input, its outcome, and the stack the
 * node logged; the node's state is shared by every case, so a replay with the same seed is
 * close to, not exactly, the failing run.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { generateP384PrivateKey } from '../../core/crypto'
import { bytesToBase64, bytesToHex } from '../../core/encoding'
import { CLOCK_ENTRY_BYTES, keyBytes, RECORD_OVERHEAD_BYTES } from '../../core/store'
import { startDevChain, type DevChain } from '../helpers/devChain'
import { registerTestApp, type TestApp } from '../helpers/kmsNodes'
import {
  deleteCase,
  deltaSpec,
  deriveCase,
  envelopeCase,
  FUZZ_LIMITS,
  getPathCase,
  getQueryCase,
  KEY_POOL,
  listCase,
  pem,
  putCase,
  REAL_CSRS,
  signCertCase,
  type EnvelopeSpec,
  type HexFieldSpec,
  type KmsCase,
} from './_arbitraries'
import {
  errorLog,
  fuzzClient,
  fuzzSeed,
  inPool,
  newTally,
  outcomeOf,
  PausableClock,
  random,
  RawInner,
  record,
  startInProcessNode,
  wire,
  type FuzzClient,
  type InProcessNode,
  type Outcome,
  type Tally,
} from './_harness'
import { describeCase, jsonText, type J } from './_json'
import { createSyncPeer, isCount, newLane, pullSnapshot, pushDelta, type SyncPeer } from './_sync'

const SEED = fuzzSeed()
const SCALE = Number(process.env['FUZZ_SCALE'] ?? '1')
/** Cases per fast-check run: they go to the node together, `CONCURRENCY` at a time. */
const BATCH = 8
const CONCURRENCY = 4

const runsFor = (cases: number): number => Math.max(1, Math.round((cases * SCALE) / BATCH))

/**
 * Cases per route; with the sync pushes below, just over 10,000 in all. A GET costs about
 * half a POST (no request envelope), a push about one and a half (and carries about 13
 * records), so the mix leans to GETs to keep the run near 2–3 minutes on two cores.
 */
const KMS_CASES = { derive: 1500, put: 1200, delete: 500, get_query: 1700, get_path: 1700, list: 100, sign_cert: 1000, envelope: 400 } as const
const SYNC_CASES = 1900
const MIN_TOTAL_CASES = 10_000

const FUZZ_ENV: Record<string, string> = {
  APP_RATE_LIMIT_PER_MINUTE: '0',
  RATE_LIMIT_PER_MINUTE: '0',
  NONCE_RATE_LIMIT_PER_MINUTE: '0',
  NODE_NONCE_RATE_LIMIT_PER_MINUTE: '0',
  LOG_LEVEL: 'ERROR',
  // A stale peer cache would make /sync a designed 503 ("registry unreadable") mid-run.
  PEER_CACHE_TTL_SECONDS: '3600',
  ...Object.fromEntries(Object.entries(FUZZ_LIMITS).map(([name, value]) => [name, String(value)])),
}

const clock = new PausableClock()
const kmsTally = newTally()
const syncTally = newTally()
const startedAt = Date.now()
let chain: DevChain
let target: InProcessNode
let app: TestApp
let client: FuzzClient

beforeAll(async () => {
  chain = await startDevChain()
  target = await startInProcessNode(chain, { env: FUZZ_ENV, clock })
  app = await registerTestApp(chain)
  client = fuzzClient(target, app)
  // Some keys exist from the start, so that reads and deletes find records too.
  for (const key of KEY_POOL) await client.putData(key, new Uint8Array([1, 2, 3]))
})

afterAll(async () => {
  await chain?.stop()
})

/** What a failing case shows: the input, the outcome, and what the node logged at ERROR. */
function failure(input: unknown, outcome: Outcome, logFrom: number): Error {
  const logged = errorLog.slice(logFrom)
  return new Error(
    `${outcome.kind === 'bad' ? outcome.why : outcome.kind}\ninput: ${describeCase(input)}\noutcome: ${describeCase(outcome)}` +
      (logged.length > 0 ? `\nnode error log:\n${logged.join('\n')}` : ''),
  )
}

/** Wire-level findings since `from`, as an error (or undefined). */
function wireFindings(from: { shape: number; fivexx: number }): Error | undefined {
  const shape = wire.shapeViolations.slice(from.shape)
  const fivexx = wire.undesigned5xx.slice(from.fivexx)
  if (shape.length === 0 && fivexx.length === 0) return undefined
  return new Error(`wire: ${[...fivexx.map((line) => `5xx ${line}`), ...shape.map((line) => `shape ${line}`)].join('\n')}\nnode error log:\n${errorLog.join('\n')}`)
}

const wireMark = (): { shape: number; fivexx: number } => ({ shape: wire.shapeViolations.length, fivexx: wire.undesigned5xx.length })

// ---------------------------------------------------------------------------------------
// /kms/*
// ---------------------------------------------------------------------------------------

async function runKmsCase(kmsCase: KmsCase): Promise<Outcome> {
  const inner = kmsCase.inner === undefined ? undefined : new RawInner(jsonText(kmsCase.inner))
  return outcomeOf(() => client.request(kmsCase.method, kmsCase.path, inner))
}

/**
 * `fc.assert`, but a failure reports only the failing case (the thrown error names it) with
 * the seed and path to replay, not the whole batch.
 */
async function check<T>(property: fc.IAsyncProperty<T>, parameters: fc.Parameters<T>): Promise<void> {
  const details = await fc.check(property, parameters)
  if (!details.failed) return
  const error = details.errorInstance
  throw new Error(
    `fuzz case failed (FUZZ_SEED=${SEED}; fast-check seed ${details.seed}, path ${JSON.stringify(details.counterexamplePath)}):\n` +
      (error instanceof Error ? error.message : String(error)),
    { cause: error },
  )
}

/** The inner requests the envelope cases seal: each would succeed if the envelope were sound. */
function envelopeInner(spec: EnvelopeSpec): J {
  if (spec.path === '/kms/derive') return { path: 'envelope/fuzz' }
  if (spec.path === '/kms/sign_cert') return { csr: pem('CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[0]!)) }
  return spec.method === 'PUT' ? { key: 'envelope-fuzz', value: 'AQID' } : { key: 'envelope-fuzz' }
}

function hexVariant(spec: HexFieldSpec, hex: string): J | undefined {
  switch (spec.as) {
    case 'sealed':
      return hex
    case 'upper':
      return hex.toUpperCase()
    case '0x':
      return `0x${hex}`
    case 'truncated':
      return hex.slice(0, 2 * spec.bytes)
    case 'extended':
      return hex + '00'.repeat(spec.bytes)
    case 'flipped': {
      const at = (spec.at % (hex.length / 2)) * 2
      const byte = (Number.parseInt(hex.slice(at, at + 2), 16) ^ spec.mask).toString(16).padStart(2, '0')
      return hex.slice(0, at) + byte + hex.slice(at + 2)
    }
    case 'json':
      return spec.value
  }
}

let strangerKeyHex: string | undefined

/** A valid PoP v2 request whose body is a hostile envelope (§5.6): sent by hand, answered through the SDK's checks. */
async function runEnvelopeCase(spec: EnvelopeSpec): Promise<Outcome[]> {
  const sealed = await client.sealRequest(new RawInner(jsonText(envelopeInner(spec))))
  strangerKeyHex ??= bytesToHex((await generateP384PrivateKey(random)).publicKey.der)
  const sender = spec.sender
  const senderValue: J | undefined =
    'key' in sender
      ? sender.key === 'app_der'
        ? sealed.sender_tee_pubkey
        : sender.key === 'app_sec1'
          ? sealed.sender_tee_pubkey.slice(-194) // the DER's last 97 bytes are the SEC1 point
          : sender.key === 'node'
            ? bytesToHex(target.teePubkeyDer)
            : strangerKeyHex
      : hexVariant(sender, sealed.sender_tee_pubkey)
  const envelope: Record<string, J | undefined> = { ...spec.extra, sender_tee_pubkey: senderValue, nonce: hexVariant(spec.nonce, sealed.nonce), encrypted_data: hexVariant(spec.encryptedData, sealed.encrypted_data) }
  const text = jsonText(envelope)
  const bodies: string[] = []
  switch (spec.body) {
    case undefined:
      bodies.push(text)
      break
    case 'plaintext':
      bodies.push(jsonText(envelopeInner(spec)))
      break
    case 'array':
      bodies.push(`[${text}]`)
      break
    case 'string':
      bodies.push(JSON.stringify(text))
      break
    case 'not_json':
      bodies.push(text.slice(0, -1))
      break
    case 'duplicate_members':
      bodies.push(`${text.slice(0, -1)},"encrypted_data":"00","sender_tee_pubkey":${JSON.stringify(sealed.sender_tee_pubkey)}}`)
      break
    case 'nested':
      bodies.push(jsonText({ envelope: envelope as J }))
      break
    case 'replay':
      // The same sound envelope twice, each under fresh PoP: the second is a replay (§10.2).
      bodies.push(JSON.stringify(sealed), JSON.stringify(sealed))
      break
  }
  const outcomes: Outcome[] = []
  for (const body of bodies) {
    outcomes.push(
      await outcomeOf(async () => {
        const { headers, signatureSubject } = await client.authHeaders({ method: spec.method, path: spec.path, body })
        const response = await target.fetch(`${target.url}${spec.path}`, { method: spec.method, headers: { 'content-type': 'application/json', ...headers }, body })
        return client.openResponse(response, signatureSubject)
      }),
    )
  }
  return outcomes
}

async function fuzzEnvelopes(): Promise<void> {
  await check(
    fc.asyncProperty(fc.array(envelopeCase, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const logFrom = errorLog.length
      const mark = wireMark()
      const results = await inPool(batch, CONCURRENCY, runEnvelopeCase)
      for (const [index, outcomes] of results.entries()) {
        for (const outcome of outcomes) {
          record(kmsTally, outcome, 'envelope')
          if (outcome.kind === 'bad') throw failure(batch[index], outcome, logFrom)
        }
      }
      const findings = wireFindings(mark)
      if (findings !== undefined) throw findings
    }),
    { seed: SEED + 8, numRuns: runsFor(KMS_CASES.envelope), endOnFailure: true },
  )
}

async function fuzzKms(route: Exclude<keyof typeof KMS_CASES, 'envelope'>, arbitrary: fc.Arbitrary<KmsCase>, seedOffset: number): Promise<void> {
  await check(
    fc.asyncProperty(fc.array(arbitrary, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const logFrom = errorLog.length
      const mark = wireMark()
      const outcomes = await inPool(batch, CONCURRENCY, runKmsCase)
      for (const [index, outcome] of outcomes.entries()) {
        record(kmsTally, outcome, route)
        if (outcome.kind === 'bad') throw failure(batch[index], outcome, logFrom)
      }
      const findings = wireFindings(mark)
      if (findings !== undefined) throw findings
    }),
    { seed: SEED + seedOffset, numRuns: runsFor(KMS_CASES[route]), endOnFailure: true },
  )
}

describe('authenticated fuzz: every /kms/* route, valid PoP v2 and envelopes, hostile inner payloads', () => {
  it('POST /kms/derive: path/context/length of every JSON type, near and above 1024 bytes, unicode, 1e309, -0, nesting', async () => {
    await fuzzKms('derive', deriveCase, 1)
  })

  it('PUT /kms/data: key/value/ttl_ms of every type, values around MAX_KV_VALUE_SIZE_BYTES and a few far above', async () => {
    await fuzzKms('put', putCase, 2)
  })

  it('DELETE /kms/data: hostile keys, existing and not', async () => {
    await fuzzKms('delete', deleteCase, 3)
  })

  it('GET /kms/data?key=…: form-encoded keys, raw %, +, /, invalid escapes, repeated parameters', async () => {
    await fuzzKms('get_query', getQueryCase, 4)
  })

  it('GET /kms/data/<key>: path keys with %, +, /, dot segments, invalid and non-UTF-8 escapes', async () => {
    await fuzzKms('get_path', getPathCase, 5)
  })

  it('GET /kms/data: the list, with odd queries', async () => {
    await fuzzKms('list', listCase, 6)
  })

  it('POST /kms/sign_cert: random, PEM-wrapped, truncated and corrupted CSRs; validity_seconds edges', async () => {
    await fuzzKms('sign_cert', signCertCase, 7)
  })

  it('every route above, with valid PoP and hostile envelopes: re-cased, prefixed, cut, flipped, other senders, replays, non-envelope bodies', async () => {
    await fuzzEnvelopes()
  })

  it('after the fuzz, an honest derive, put, get, list and sign_cert still work', async () => {
    const { key } = await client.derive({ path: 'after/fuzz', context: 'ctx', length: 48 })
    expect(key).toHaveLength(48)
    await client.putData('after-fuzz', new Uint8Array([7, 7, 7]))
    expect((await client.getData('after-fuzz')).value).toEqual(new Uint8Array([7, 7, 7]))
    expect(await client.listData()).toContain('after-fuzz')
    expect(await client.signCert(pem('CERTIFICATE REQUEST', bytesToBase64(REAL_CSRS[0]!)), 3600)).toHaveProperty('certificate')
  })
})

// ---------------------------------------------------------------------------------------
// /sync as a registered peer
// ---------------------------------------------------------------------------------------

let sync: SyncPeer
/** What the node counted over every accepted delta (§4.3). */
const syncRecords = { total: 0, merged: 0, skipped: 0, rejected: 0 }

/** The store's figures agree with what a re-list and a snapshot show (§2.1, §6.4). */
function checkStoreConsistency(): void {
  clock.freeze()
  try {
    const stats = target.node.store.stats()
    for (const value of Object.values(stats)) expect(isCount(value), `stats ${JSON.stringify(stats)}`).toBe(true)
    const snapshot = target.node.store.snapshot()
    let liveKeys = 0
    let charged = 0
    for (const [appText, records] of Object.entries(snapshot)) {
      const live = records.filter((entry) => !entry.tombstone)
      expect([...target.node.store.list(Number(appText))].sort(), `app ${appText} list`).toEqual(live.map((entry) => entry.key).sort())
      const appCharge = records.reduce(
        (sum, entry) => sum + keyBytes(entry.key) + (entry.value === null ? 0 : entry.value.length / 2) + RECORD_OVERHEAD_BYTES + CLOCK_ENTRY_BYTES * Object.keys(entry.version).length,
        0,
      )
      expect(appCharge, `app ${appText} charge`).toBeLessThanOrEqual(FUZZ_LIMITS.MAX_APP_STORAGE_BYTES)
      expect(records.length, `app ${appText} records`).toBeLessThanOrEqual(FUZZ_LIMITS.MAX_RECORDS_PER_APP)
      expect(records.length - live.length, `app ${appText} tombstones`).toBeLessThanOrEqual(FUZZ_LIMITS.MAX_TOMBSTONES_PER_APP)
      liveKeys += live.length
      charged += appCharge
    }
    expect(stats.total_keys).toBe(liveKeys)
    expect(stats.total_bytes).toBe(charged)
  } finally {
    clock.resume()
  }
}

describe('authenticated fuzz: /sync as a registered peer, hostile records (§4.3, §6.7)', () => {
  beforeAll(async () => {
    sync = await createSyncPeer(chain, target, clock, app.appId)
  })

  it('delta pushes with hostile records end in a 2xx with consistent counts or a clean 4xx', async () => {
    const lanes = Array.from({ length: CONCURRENCY }, () => newLane(sync))
    await check(
      fc.asyncProperty(fc.array(deltaSpec, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const logFrom = errorLog.length
        const mark = wireMark()
        const results = await inPool(batch, CONCURRENCY, (spec, lane) => pushDelta(sync, lanes[lane]!, spec))
        for (const [index, { outcome, data, counts }] of results.entries()) {
          record(syncTally, outcome, 'sync')
          if (counts !== undefined) for (const name of ['total', 'merged', 'skipped', 'rejected'] as const) syncRecords[name] += counts[name]
          if (outcome.kind === 'bad') throw failure({ spec: batch[index], data }, outcome, logFrom)
        }
        const findings = wireFindings(mark)
        if (findings !== undefined) throw findings
      }),
      { seed: SEED + 100, numRuns: runsFor(SYNC_CASES), endOnFailure: true },
    )
  })

  it('the store stays consistent: stats equal a re-list and a snapshot, within every per-app limit', () => {
    checkStoreConsistency()
  })

  it('a peer that joins now pulls the store page by page: every record passes §6.7 again, and its lists equal the node’s', async () => {
    clock.freeze()
    try {
      const { counts, store, pages } = await pullSnapshot(sync)
      const snapshot = target.node.store.snapshot()
      const held = Object.values(snapshot).reduce((sum, records) => sum + records.length, 0)
      expect(counts, `${pages} pages`).toMatchObject({ total: held, merged: held, rejected: 0 })
      for (const appText of Object.keys(snapshot)) {
        expect([...store.list(Number(appText))].sort(), `app ${appText}`).toEqual([...target.node.store.list(Number(appText))].sort())
      }
      for (let page = 0; page < pages; page++) record(syncTally, { kind: '2xx', status: 200 }, 'snapshot page')
    } finally {
      clock.resume()
    }
  })

  it('after the hostile deltas, an honest PUT/GET through the SDK works, and synced keys read back', async () => {
    await client.putData('after-sync', new Uint8Array([9, 8, 7]))
    expect((await client.getData('after-sync')).value).toEqual(new Uint8Array([9, 8, 7]))
    const live = (target.node.store.snapshot()[String(app.appId)] ?? []).filter((entry) => !entry.tombstone && entry.ttl_ms === 0).slice(0, 10)
    for (const entry of live) {
      const outcome = await outcomeOf(() => client.getData(entry.key))
      expect(outcome.kind, describeCase({ key: entry.key, outcome })).toBe('2xx')
    }
    checkStoreConsistency()
  })
})

function tallyLine(name: string, tally: Tally): string {
  return `${name}: ${tally.cases} cases, ${tally.ok2xx} 2xx, ${tally.client4xx} 4xx, ${tally.designed503} designed 503, ${tally.other5xx} other 5xx, ${tally.other} other`
}

it('summary: at least 10,000 cases, no 5xx but the designed 503s, every error body {code,message}', () => {
  const total = newTally()
  for (const tally of [kmsTally, syncTally]) {
    total.cases += tally.cases
    total.ok2xx += tally.ok2xx
    total.client4xx += tally.client4xx
    total.designed503 += tally.designed503
    total.other5xx += tally.other5xx
    total.other += tally.other
  }
  const seconds = ((Date.now() - startedAt) / 1000).toFixed(1)
  console.log(
    `fuzz seed=${SEED}: ${total.cases} cases, ${total.ok2xx} 2xx, ${total.client4xx} 4xx, ${total.designed503} designed 503s, ` +
      `${total.other5xx + wire.undesigned5xx.length} other 5xx (must be 0) in ${seconds} s\n` +
      `  ${tallyLine('kms', kmsTally)}\n  ${tallyLine('sync', syncTally)}; records in them: ${JSON.stringify(syncRecords)}\n` +
      `  wire statuses: ${JSON.stringify(Object.fromEntries([...wire.byStatus].sort(([a], [b]) => a - b)))}\n` +
      `  outcomes: ${JSON.stringify(Object.fromEntries([...kmsTally.byStatus, ...syncTally.byStatus].sort(([, a], [, b]) => b - a)))}`,
  )
  expect(total.other5xx).toBe(0)
  expect(total.other).toBe(0)
  expect(wire.undesigned5xx).toEqual([])
  expect(wire.shapeViolations).toEqual([])
  if (SCALE >= 1) expect(total.cases).toBeGreaterThanOrEqual(MIN_TOTAL_CASES)
})
