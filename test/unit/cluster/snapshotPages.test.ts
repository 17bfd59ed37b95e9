/**
 * The paginated snapshot (PROTOCOL §4.3): `KvStore.snapshotPage` (bounded pages in
 * (app_id, key) order, a cursor stable under concurrent writes), the cursor on the wire,
 * `answerSync`'s `snapshot_request` with and without `cursor`/`max_bytes`, and the requester
 * pulling every page, with its bounds against a peer that never ends.
 */
import { describe, expect, it } from 'vitest'
import {
  answerSync,
  compareSnapshotCursors,
  encodeSnapshotCursor,
  MIN_SNAPSHOT_PAGE_BYTES,
  parseSnapshotCursor,
  syncDataBudget,
} from '../../../core/cluster'
import { buildResponseMessage } from '../../../core/crypto'
import { canonicalJson, utf8Length, type Wallet } from '../../../core/encoding'
import { openEnvelope, sealEnvelope } from '../../../core/envelope'
import { KmsError } from '../../../core/errors'
import { KvStore, type SnapshotCursor, type WireData } from '../../../core/store'
import { FakeClock, seededRandom } from '../../helpers/fakeClock'
import { createHarness, type HarnessNode } from './_syncHarness'

const WALLET: Wallet = '0x00000000000000000000000000000000000000aa'
const T0 = 1_767_225_600_000

function store(clock = new FakeClock(T0)): KvStore {
  return new KvStore({
    clock,
    nodeWallet: () => WALLET,
    limits: { maxAppStorageBytes: 10_485_760, maxValueSizeBytes: 1_048_576, tombstoneRetentionMs: 86_400_000, maxTombstonesPerApp: 10_000, maxClockSkewMs: 15_000 },
  })
}

const value = (size: number, fill = 1): Uint8Array => new Uint8Array(28 + size).fill(fill)

/** Every page from the start, with the cursor passed as its wire string. */
function allPages(source: KvStore, maxBytes: number): { pages: WireData[]; cursors: (string | null)[] } {
  const pages: WireData[] = []
  const cursors: (string | null)[] = []
  let after: SnapshotCursor | null = null
  for (let guard = 0; guard < 10_000; guard++) {
    const page = source.snapshotPage(after, maxBytes)
    pages.push(page.data)
    const wire = page.next === null ? null : encodeSnapshotCursor(page.next)
    cursors.push(wire)
    if (wire === null) return { pages, cursors }
    after = parseSnapshotCursor(wire)!
  }
  throw new Error('no last page')
}

const keysOf = (pages: WireData[]): string[] => pages.flatMap((page) => Object.entries(page).flatMap(([app, records]) => records.map((record) => `${app}/${record.key}`)))

describe('KvStore.snapshotPage', () => {
  it('behavior: pages cover every record once, tombstones included, in (app_id, key) order, each within the budget', () => {
    const source = store()
    for (const app of [10, 9, 100]) for (let index = 0; index < 40; index++) source.put(app, `key-${String(index).padStart(2, '0')}`, value(500), 0)
    source.delete(9, 'key-05')
    const { pages } = allPages(source, 8_000)
    expect(pages.length).toBeGreaterThan(10)
    for (const page of pages) expect(utf8Length(canonicalJson(page))).toBeLessThanOrEqual(8_000)
    const expected = [9, 10, 100].flatMap((app) => Array.from({ length: 40 }, (_, index) => `${app}/key-${String(index).padStart(2, '0')}`))
    expect(keysOf(pages)).toEqual(expected)
    expect(pages.flatMap((page) => page['9'] ?? []).find((record) => record.key === 'key-05')).toMatchObject({ tombstone: true, value: null })
    // One page holds everything when the budget allows, like snapshot().
    expect(source.snapshotPage(null, 100_000_000)).toEqual({ data: source.snapshot(), next: null })
  })

  it('behavior: a record larger than the budget gets a page of its own, so every page makes progress', () => {
    const source = store()
    source.put(1, 'a', value(10), 0)
    source.put(1, 'big', value(5_000), 0)
    source.put(1, 'c', value(10), 0)
    const { pages } = allPages(source, 1_000)
    expect(pages.map((page) => page['1']!.map((record) => record.key))).toEqual([['a'], ['big'], ['c']])
  })

  it('behavior: the cursor is a position, not an offset: writes behind it are not in this pass, writes ahead are', () => {
    const source = store()
    for (const key of ['b', 'd', 'f', 'h']) source.put(1, key, value(300), 0)
    const first = source.snapshotPage(null, 2_000)
    expect(first.data['1']!.map((record) => record.key)).toEqual(['b', 'd'])
    source.put(1, 'a', value(300), 0) // behind the cursor: the writer's delta push delivers it
    source.put(1, 'e', value(300), 0) // ahead of it
    source.delete(1, 'f')
    let after = first.next
    const seen: string[] = []
    while (after !== null) {
      const page = source.snapshotPage(after, 2_000)
      seen.push(...(page.data['1'] ?? []).map((record) => `${record.key}${record.tombstone ? '†' : ''}`))
      after = page.next
    }
    expect(seen).toEqual(['e', 'f†', 'h'])
  })

  it('behavior: expired records are purged first; recency is untouched', () => {
    const clock = new FakeClock(T0)
    const source = store(clock)
    source.put(1, 'short', value(1), 1_000)
    source.put(1, 'long', value(1), 0)
    clock.ms += 2_000
    expect(source.snapshotPage(null, 1_000_000).data['1']!.map((record) => record.key)).toEqual(['long'])
  })
})

describe('the snapshot cursor on the wire', () => {
  it('behavior: <app_id>:<hex of the key bytes>, round trip, ordered like the store', () => {
    const cursor = { appId: 49, key: 'ünï/cödé:x' }
    expect(encodeSnapshotCursor({ appId: 7, key: 'ab' })).toBe('7:6162')
    expect(parseSnapshotCursor(encodeSnapshotCursor(cursor))).toEqual(cursor)
    expect(compareSnapshotCursors({ appId: 9, key: 'z' }, { appId: 10, key: 'a' })).toBeLessThan(0)
    expect(compareSnapshotCursors({ appId: 9, key: 'a' }, { appId: 9, key: 'b' })).toBeLessThan(0)
  })

  it('error: anything else is not a cursor', () => {
    for (const text of ['', '7', '7:', ':6162', '07:6162', '0:6162', '7:616', '7:6G62', '7:FF', '7:6162:1', ' 7:6162', `7:${'61'.repeat(1025)}`, '99999999999999999:61', '7:c0af']) {
      expect(parseSnapshotCursor(text)).toBeUndefined()
    }
  })
})

describe('answerSync snapshot_request (§4.3)', () => {
  const context = (source: KvStore, maxPageBytes = 200_000) => ({
    store: source,
    canDecrypt: async () => true,
    sealSecretFor: async () => {
      throw new Error('not used')
    },
    random: seededRandom(1),
    maxPageBytes,
  })
  const filled = (): KvStore => {
    const source = store()
    for (let index = 0; index < 300; index++) source.put(1, `k${String(index).padStart(3, '0')}`, value(400), 0)
    return source
  }

  it('behavior: with neither cursor nor max_bytes (a requester from before pages), every record in one answer, no next_cursor', async () => {
    const source = filled()
    expect(await answerSync({ type: 'snapshot_request' }, context(source, 1024))).toEqual({ status: 'ok', data: source.snapshot() })
  })

  it('behavior: max_bytes is clamped to [64 KiB, the node\'s own budget]; next_cursor leads to the next page, null after the last', async () => {
    const source = filled()
    const small = await answerSync({ type: 'snapshot_request', max_bytes: 1 }, context(source))
    const size = utf8Length(canonicalJson(small['data']))
    expect(size).toBeLessThanOrEqual(MIN_SNAPSHOT_PAGE_BYTES)
    expect(size).toBeGreaterThan(MIN_SNAPSHOT_PAGE_BYTES - 1_000)
    const capped = await answerSync({ type: 'snapshot_request', max_bytes: 10_000_000 }, context(source, 100_000))
    expect(utf8Length(canonicalJson(capped['data']))).toBeLessThanOrEqual(100_000)
    const records = [...(capped['data'] as WireData)['1']!]
    let cursor = capped['next_cursor']
    for (let guard = 0; typeof cursor === 'string' && guard < 100; guard++) {
      const page = await answerSync({ type: 'snapshot_request', cursor, max_bytes: 10_000_000 }, context(source, 100_000))
      expect(utf8Length(canonicalJson(page['data']))).toBeLessThanOrEqual(100_000)
      records.push(...(page['data'] as WireData)['1']!)
      cursor = page['next_cursor']
    }
    expect(cursor).toBeNull()
    expect(records).toEqual(source.snapshot()['1'])
    expect(syncDataBudget(52_428_800)).toBe(26_210_304)
  })

  it('error: a cursor or max_bytes that is not one is 400', async () => {
    const source = filled()
    const refusal = async (payload: Record<string, unknown>): Promise<unknown> =>
      answerSync({ type: 'snapshot_request', ...payload }, context(source)).then(
        () => undefined,
        (error: unknown) => (error instanceof KmsError ? error.toBody() : error),
      )
    for (const cursor of ['x', 7, {}, '1:zz']) expect(await refusal({ cursor })).toEqual({ code: 'bad_request', message: 'Invalid snapshot cursor' })
    for (const maxBytes of [0, -1, 1.5, '100', null]) expect(await refusal({ max_bytes: maxBytes })).toEqual({ code: 'bad_request', message: 'Invalid snapshot max_bytes' })
    expect(await answerSync({ type: 'snapshot_request', cursor: null, max_bytes: 70_000 }, context(source))).toHaveProperty('next_cursor')
  })
})

describe('the requester pulls every page (§4.3, §7.1)', () => {
  async function pair(env: Record<string, string> = {}) {
    const harness = await createHarness([{ name: 'a', env }, { name: 'b', env }])
    const [a, b] = harness.nodes as [HarnessNode, HarnessNode]
    return { harness, a, b }
  }

  it('behavior: a store larger than one body arrives whole, page by page', async () => {
    // 160 KB of data under a 200 KB body limit: 100 KB pages of data, so two or more pages.
    const { harness, a, b } = await pair({ MAX_SYNC_PAYLOAD_BYTES: '200000' })
    for (let index = 0; index < 80; index++) await b.node.appValues.put(1000, `k${index}`, new Uint8Array(1_000).fill(index), 0)
    const counts = await a.client.pullSnapshotCounts(harness.peerOf(a, b))
    expect(counts).toMatchObject({ total: 80, merged: 80, rejected: 0 })
    expect(b.received.filter((request) => request.url.endsWith('/sync')).length).toBeGreaterThanOrEqual(2)
    expect(a.node.store.stats().total_keys).toBe(80)
  })

  it('behavior: an old peer that answers without next_cursor sent one page', async () => {
    const { harness, a, b } = await pair()
    await b.node.appValues.put(1000, 'k', new Uint8Array([1]), 0)
    b.intercept = async (request) => {
      if (!request.url.endsWith('/sync')) return undefined
      // A node from before v2 and pages: it refuses the v2 PoP, and answers v1 with every record.
      if (request.headers.get('x-sync-version') === '2') return new Response('{"code":"unauthorized","message":"KMS wallet header does not match signature"}', { status: 403 })
      const envelope = (await request.json()) as Parameters<typeof openEnvelope>[0]['envelope']
      await openEnvelope({ tee: b.node.tee, envelope, expectedSenderDer: a.teePubkeyDer, invalidPayloadMessage: 'x' })
      const sealed = await sealEnvelope(b.node.tee, { status: 'ok', data: b.node.store.snapshot() }, a.teePubkeyDer)
      const signature = await b.node.tee.signMessage(buildResponseMessage({ signature: request.headers.get('x-kms-signature')!, wallet: b.wallet }))
      return new Response(JSON.stringify(sealed), { headers: { 'x-kms-peer-signature': signature } })
    }
    expect(await a.client.pullSnapshotCounts(harness.peerOf(a, b))).toMatchObject({ total: 1, merged: 1 })
  })

  it('error: a cursor that does not move forward, or a pull past the deadline, fails', async () => {
    const { harness, a, b } = await pair({ PEER_CACHE_TTL_SECONDS: '100000' })
    const stuck = { appId: 1000, key: 'same' }
    b.node.store.snapshotPage = () => ({ data: {}, next: stuck })
    expect(await failure(() => a.client.pullSnapshotCounts(harness.peerOf(a, b)))).toBe('peer sent an invalid snapshot cursor')
    let n = 0
    b.node.store.snapshotPage = () => {
      harness.clock.advanceSeconds(70)
      return { data: {}, next: { appId: 1000, key: `k${String(n++).padStart(4, '0')}` } }
    }
    expect(await failure(() => a.client.pullSnapshotCounts(harness.peerOf(a, b)))).toBe('snapshot pull took too long')
    expect(n).toBeLessThanOrEqual(6)
  })
})

async function failure(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
  throw new Error('expected a failure')
}
