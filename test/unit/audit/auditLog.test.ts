/**
 * The audit log (PROTOCOL §14): chains per app with no cross-app gaps, the §14.3 bounds,
 * pages, and the client's verification of a signed page, including tampering, truncation,
 * splicing, forks, restarts and gaps.
 */
import { describe, expect, it } from 'vitest'
import { AUDIT_GENESIS_HASH, AuditLog, AuditSinceAheadError, buildAuditHeadMessage, CLUSTER_CHAIN, computeAuditEntryHash, MAX_AUDIT_PAGE_ENTRIES, type AuditChainId, type AuditPage } from '../../../core/audit'
import { AuditVerificationError, verifyAuditPage } from '../../../core/client'
import { bytesToHex, type Wallet } from '../../../core/encoding'
import { createLocalTee, type Tee } from '../../../core/tee'
import { seededRandom } from '../crypto/_random'

const clock = { nowMs: () => 1_700_000_000_000 }

function newLog(limits?: ConstructorParameters<typeof AuditLog>[0]['limits']): AuditLog {
  return new AuditLog({ clock, random: seededRandom('audit log'), ...(limits === undefined ? {} : { limits }) })
}

async function signed(log: AuditLog, tee: Tee, chainId: AuditChainId, since: number): Promise<AuditPage> {
  const page = log.page(chainId, since)
  const wallet = await tee.getWallet()
  const teePubkeyHex = bytesToHex(await tee.getEncryptionPublicKey())
  const message = buildAuditHeadMessage({ appId: chainId, seq: page.head.seq, headHash: page.head.hash, dropped: page.head.dropped, teePubkeyHex, wallet })
  return { ...page, head_signature: await tee.signMessage(message) }
}

async function nodeOf(tee: Tee): Promise<{ wallet: Wallet; teePubkeyDer: Uint8Array }> {
  return { wallet: await tee.getWallet(), teePubkeyDer: await tee.getEncryptionPublicKey() }
}

function code(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    if (error instanceof AuditVerificationError) return error.code
    throw error
  }
  return 'verified'
}

describe('AuditLog', () => {
  it('behavior: each chain counts only its own entries, hashed from the genesis, so no gap shows another app', () => {
    const log = newLog()
    log.append(7, 'aa'.repeat(16), { op: 'data_put', key: 'a' })
    log.append(8, 'bb'.repeat(16), { op: 'derive', path: 'p', context: '', length: 32, epoch: { cluster: 0, app: 0 } })
    log.append(8, 'cc'.repeat(16), { op: 'data_get', key: 'k' })
    log.append(7, 'dd'.repeat(16), { op: 'data_delete', key: 'a' })
    const seven = log.page(7, 0)
    expect(seven.entries.map((entry) => [entry.seq, entry.op])).toEqual([[1, 'data_put'], [2, 'data_delete']])
    expect(seven.prev_hash).toBe(AUDIT_GENESIS_HASH)
    const { hash: firstHash, ...first } = seven.entries[0]!
    expect(firstHash).toBe(computeAuditEntryHash(AUDIT_GENESIS_HASH, first))
    expect(seven.entries[1]!.hash).toBe(computeAuditEntryHash(firstHash, (({ hash: _, ...rest }) => rest)(seven.entries[1]!)))
    expect(seven.head).toEqual({ seq: 2, hash: seven.entries[1]!.hash, dropped: 0 })
    expect(log.page(8, 0).entries.map((entry) => entry.seq)).toEqual([1, 2])
    expect(log.page(9, 0)).toMatchObject({ entries: [], head: { seq: 0, hash: AUDIT_GENESIS_HASH, dropped: 0 }, more: false })
    expect(first).toEqual({ op: 'data_put', key: 'a', seq: 1, boot: log.boot, app_id: 7, request_id: 'aa'.repeat(16), at_ms: clock.nowMs() })
  })

  it('behavior: pages of MAX_AUDIT_PAGE_ENTRIES, prev_hash linking them; since ahead of the head is refused', () => {
    const log = newLog()
    for (let index = 0; index < 300; index++) log.append(1, log.newRequestId(), { op: 'data_get', key: `k${index}` })
    const first = log.page(1, 0)
    expect(first.entries).toHaveLength(MAX_AUDIT_PAGE_ENTRIES)
    expect(first.more).toBe(true)
    const second = log.page(1, first.entries.at(-1)!.seq)
    expect(second.prev_hash).toBe(first.entries.at(-1)!.hash)
    expect(second.entries.map((entry) => entry.seq)).toEqual(Array.from({ length: 44 }, (_, index) => 257 + index))
    expect(second.more).toBe(false)
    expect(log.page(1, 300)).toMatchObject({ entries: [], prev_hash: log.head(1).hash })
    expect(() => log.page(1, 301)).toThrow(AuditSinceAheadError)
  })

  it('bounds: a chain drops its oldest past its bound, and counts them', () => {
    const log = newLog({ maxEntriesPerChain: 3 })
    for (let index = 0; index < 5; index++) log.append(1, log.newRequestId(), { op: 'data_get', key: `k${index}` })
    const page = log.page(1, 0)
    expect(page.head).toMatchObject({ seq: 5, dropped: 2 })
    expect(page.entries.map((entry) => entry.seq)).toEqual([3, 4, 5])
    // prev_hash is the last dropped entry's hash: the oldest retained entry still chains to it.
    expect(page.prev_hash).not.toBe(AUDIT_GENESIS_HASH)
    const { hash: oldestHash, ...oldest } = page.entries[0]!
    expect(oldestHash).toBe(computeAuditEntryHash(page.prev_hash, oldest))
    expect(log.stats()).toMatchObject({ entries: 5, dropped: 2, retained: 3 })
  })

  it('bounds: the total bound drops from the fullest chain; the chain bound forgets the least recent, never the cluster chain', () => {
    const log = newLog({ maxEntriesTotal: 4, maxChains: 2 })
    log.append(CLUSTER_CHAIN, log.newRequestId(), { op: 'epoch_serving', epoch: 0 })
    for (let index = 0; index < 4; index++) log.append(1, log.newRequestId(), { op: 'data_get', key: `k${index}` })
    // 5 retained > 4: app 1 is the fullest and drops its oldest; the cluster chain keeps its one.
    expect(log.head(1)).toMatchObject({ seq: 4, dropped: 1 })
    expect(log.head(CLUSTER_CHAIN)).toMatchObject({ seq: 1, dropped: 0 })
    log.append(2, log.newRequestId(), { op: 'data_get', key: 'x' })
    // Three chains > 2: app 1, appended to least recently apart from the cluster chain, goes.
    expect(log.head(1)).toEqual({ seq: 0, hash: AUDIT_GENESIS_HASH, dropped: 0 })
    expect(log.head(CLUSTER_CHAIN).seq).toBe(1)
    expect(log.stats()).toMatchObject({ chains: 2, retained: 2 })
    expect(log.stats().entries - log.stats().dropped).toBe(log.stats().retained)
  })
})

describe('verifyAuditPage (§14.4 client check)', () => {
  async function fixture() {
    const tee = await createLocalTee({ random: seededRandom('audit tee') })
    const other = await createLocalTee({ random: seededRandom('other tee') })
    const log = newLog()
    log.append(5, log.newRequestId(), { op: 'derive', path: 'disk', context: 'v1', length: 32, epoch: { cluster: 0, app: 0 } })
    log.append(5, log.newRequestId(), { op: 'data_put', key: 'token' })
    log.append(6, log.newRequestId(), { op: 'data_put', key: 'other app' })
    log.append(5, log.newRequestId(), { op: 'sign_cert', serial: 'ab'.repeat(16), not_after_s: 1_700_604_800 })
    return { tee, other, log, node: await nodeOf(tee) }
  }

  it('behavior: a whole page verifies and names the operations in order', async () => {
    const { tee, log, node } = await fixture()
    const page = verifyAuditPage({ page: await signed(log, tee, 5, 0), appId: 5, since: 0, node })
    expect(page.entries.map((entry) => entry.op)).toEqual(['derive', 'data_put', 'sign_cert'])
    expect(page.continuity).toEqual({ kind: 'first' })
    expect(page.cursor).toEqual({ boot: log.boot, seq: 3, hash: log.head(5).hash })
  })

  it('error: tampered, reordered, removed, truncated, spliced, or signed by another key', async () => {
    const { tee, other, log, node } = await fixture()
    const page = await signed(log, tee, 5, 0)
    const check = (mutated: unknown) => code(() => verifyAuditPage({ page: mutated, appId: 5, since: 0, node }))
    const clone = (): AuditPage => structuredClone(page)
    const renamed = clone()
    ;(renamed.entries[1] as { key: string }).key = 'something else'
    expect(check(renamed)).toBe('hash_mismatch')
    const reordered = clone()
    reordered.entries.reverse()
    expect(check(reordered)).toBe('seq_gap')
    const removed = clone()
    removed.entries.splice(1, 1)
    expect(check(removed)).toBe('seq_gap')
    const truncated = clone()
    truncated.entries.pop()
    expect(check(truncated)).toBe('truncated')
    const emptied = clone()
    emptied.entries = []
    expect(check(emptied)).toBe('truncated')
    const spliced = clone()
    spliced.entries.splice(1, 0, { ...log.page(6, 0).entries[0]! })
    expect(check(spliced)).toBe('wrong_app')
    expect(check(await signed(log, other, 5, 0))).toBe('bad_signature')
    const headForged = clone()
    headForged.head = { ...headForged.head, dropped: 1 }
    expect(check(headForged)).toBe('bad_signature')
    expect(code(() => verifyAuditPage({ page, appId: 6, since: 0, node }))).toBe('wrong_app')
  })

  it('behavior: continuity between two reads; a fork, a restart and a gap are told apart', async () => {
    const { tee, log, node } = await fixture()
    const first = verifyAuditPage({ page: await signed(log, tee, 5, 0), appId: 5, since: 0, node })
    log.append(5, log.newRequestId(), { op: 'data_get', key: 'token' })
    const second = verifyAuditPage({ page: await signed(log, tee, 5, first.cursor.seq), appId: 5, since: first.cursor.seq, node, previous: first.cursor })
    expect(second.continuity).toEqual({ kind: 'continued' })
    expect(second.entries.map((entry) => entry.op)).toEqual(['data_get'])

    // A node that rewrote history since the first read: same boot and seq, another hash.
    const forked = newLog()
    forked.append(5, 'ee'.repeat(16), { op: 'data_get', key: 'x' })
    forked.append(5, 'ee'.repeat(16), { op: 'data_get', key: 'y' })
    forked.append(5, 'ee'.repeat(16), { op: 'data_get', key: 'z' })
    forked.append(5, 'ee'.repeat(16), { op: 'data_get', key: 'w' })
    expect(forked.boot).toBe(log.boot) // the same seeded boot: only the history differs
    expect(code(() => verifyAuditPage({ page: null, appId: 5, since: 3, node, previous: first.cursor }))).toBe('malformed')
    const forkedPage = await signed(forked, tee, 5, 3)
    expect(code(() => verifyAuditPage({ page: forkedPage, appId: 5, since: 3, node, previous: first.cursor }))).toBe('fork')

    const restarted = new AuditLog({ clock, random: seededRandom('after restart') })
    restarted.append(5, restarted.newRequestId(), { op: 'data_get', key: 'token' })
    const afterRestart = verifyAuditPage({ page: await signed(restarted, tee, 5, 0), appId: 5, since: 0, node, previous: first.cursor })
    expect(afterRestart.continuity).toEqual({ kind: 'restarted' })

    const small = new AuditLog({ clock, random: seededRandom('audit log'), limits: { maxEntriesPerChain: 2 } })
    small.append(5, 'aa'.repeat(16), { op: 'data_get', key: 'a' })
    const before = verifyAuditPage({ page: await signed(small, tee, 5, 0), appId: 5, since: 0, node })
    for (const key of ['b', 'c', 'd']) small.append(5, 'aa'.repeat(16), { op: 'data_get', key })
    const gapped = verifyAuditPage({ page: await signed(small, tee, 5, 1), appId: 5, since: 1, node, previous: before.cursor })
    expect(gapped.continuity).toEqual({ kind: 'gap', missed: 1 })
    expect(gapped.entries.map((entry) => entry.seq)).toEqual([3, 4])
  })
})
