/**
 * The §14 audit log vectors (test/vectors/protocol-14-audit.json) against the project's code:
 * canonical JSON and entry hashes (core/audit), the node's AuditLog replaying the same ops,
 * head messages, EIP-191 digests and the node's signatures (core/crypto and the local Tee,
 * which signs the way the node does), and the client's verifyAuditPage on the §14.4 page. The
 * same file is printed byte for byte by an independent Python script (auditPython.test.ts).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, test } from 'vitest'
import {
  AUDIT_GENESIS_HASH,
  AuditLog,
  buildAuditHeadMessage,
  CLUSTER_CHAIN,
  computeAuditEntryHash,
  type AuditChainId,
  type AuditEntry,
  type AuditHead,
  type AuditOp,
  type AuditPage,
} from '../../../core/audit'
import { AuditVerificationError, verifyAuditPage } from '../../../core/client'
import { hashEip191Message, recoverMessageSigner, signMessageWithKey } from '../../../core/crypto'
import { bytesToHex, canonicalJson, type Wallet } from '../../../core/encoding'
import { createLocalTee } from '../../../core/tee'
import { hex, loadVectors, type VectorCase } from '../crypto/_vectors'
import { scriptedRandom, seededRandom } from '../crypto/_random'

const FILE = resolve(__dirname, '../../vectors/protocol-14-audit.json')
const fileText = readFileSync(FILE, 'utf8')

interface Inputs {
  boot: string
  node_private_key: string
  node_wallet: Wallet
  tee_private_scalar: string
  tee_pubkey: string
  genesis_hash: string
}
interface EntryCase extends VectorCase {
  kind: 'audit_entry'
  prev_hash: string
  entry: AuditEntry
  canonical_json: string
  entry_hash: string
}
interface HeadCase extends VectorCase {
  kind: 'audit_head'
  app_id: AuditChainId
  head: AuditHead
  tee_pubkey: string
  wallet: Wallet
  message: string
  eip191_digest: string
  signature: `0x${string}`
}
interface PageCase extends VectorCase {
  kind: 'audit_page'
  app_id: AuditChainId
  since: number
  page: AuditPage
}
type AuditCase = EntryCase | HeadCase | PageCase
interface AuditVectorFile {
  description: string
  source: string
  inputs: Inputs
  cases: AuditCase[]
}

const vectorFile = JSON.parse(fileText) as AuditVectorFile
const vectors = loadVectors<AuditCase>(vectorFile)
const { inputs } = vectorFile
const entryCases = vectors.cases.filter((entry): entry is EntryCase => entry.kind === 'audit_entry')
const headCases = vectors.cases.filter((entry): entry is HeadCase => entry.kind === 'audit_head')
const pageCases = vectors.cases.filter((entry): entry is PageCase => entry.kind === 'audit_page')

const APP_OPS = ['derive', 'data_get', 'data_list', 'data_put', 'data_delete', 'sign_cert']
const CLUSTER_OPS = ['secret_sent', 'snapshot_sent', 'recovery_share_received', 'epoch_serving', 'epoch_wiped']

/** The members every entry has (§14.2); what is left is the op and its own members. */
function opOf(entry: AuditEntry): AuditOp {
  const { seq: _seq, boot: _boot, app_id: _appId, request_id: _requestId, at_ms: _atMs, ...op } = entry
  return op as AuditOp
}

function chainOf(appId: AuditChainId): EntryCase[] {
  return entryCases.filter((entry) => entry.entry.app_id === appId)
}

/** The node's AuditLog fed the file's boot, request ids, clock readings and ops, in order. */
function replay(): AuditLog {
  let nowMs = 0
  const log = new AuditLog({ clock: { nowMs: () => nowMs }, random: scriptedRandom(hex(inputs.boot)) })
  for (const { entry } of entryCases) {
    nowMs = entry.at_ms
    log.append(entry.app_id, entry.request_id, opOf(entry))
  }
  return log
}

function nodeTee() {
  return createLocalTee({ random: seededRandom('audit vectors'), walletPrivateKey: hex(inputs.node_private_key), encryptionPrivateKey: hex(inputs.tee_private_scalar) })
}

const node = { wallet: inputs.node_wallet, teePubkeyDer: hex(inputs.tee_pubkey) }

function rejection(page: unknown, since: number): string {
  try {
    verifyAuditPage({ page, appId: pageCases[0]!.app_id, since, node })
  } catch (error) {
    if (error instanceof AuditVerificationError) return error.code
    throw error
  }
  return 'verified'
}

describe('audit log vectors (PROTOCOL §14)', () => {
  test('behavior: the file cites §14, and covers every op of §14.2, an empty chain and a mid-chain page', () => {
    expect(vectorFile.description).toMatch(/PROTOCOL §14/)
    expect(vectors.source).toMatch(/^PROTOCOL\.md §14/)
    expect(new Set(vectors.cases.map((entry) => entry.kind))).toEqual(new Set(['audit_entry', 'audit_head', 'audit_page']))
    const appIds = [...new Set(entryCases.map((entry) => entry.entry.app_id))]
    expect(appIds).toEqual([49, CLUSTER_CHAIN])
    expect(new Set(chainOf(49).map((entry) => entry.entry.op))).toEqual(new Set(APP_OPS))
    expect(new Set(chainOf(CLUSTER_CHAIN).map((entry) => entry.entry.op))).toEqual(new Set(CLUSTER_OPS))
    expect(headCases.map((entry) => entry.app_id)).toEqual([49, CLUSTER_CHAIN, 50])
    expect(pageCases).toHaveLength(1)
    const { since, app_id: appId } = pageCases[0]!
    expect(since).toBeGreaterThan(0)
    expect(since).toBeLessThan(chainOf(appId).length)
    // §0's escapes are pinned: some entry's canonical JSON has each of them, and raw non-ASCII.
    const escapes = ['\\"', '\\\\', '\\n', '\\t', '\\u0001', '\\u0007', '\\u001f']
    for (const escape of escapes) expect(entryCases.some((entry) => entry.canonical_json.includes(escape)), escape).toBe(true)
    expect(entryCases.some((entry) => /[\u0080-\uffff]/.test(entry.canonical_json) && entry.canonical_json.includes('\u{1F511}'))).toBe(true)
  })

  test.each(entryCases)('vector: $name: canonical JSON and entry_hash (§14.1)', ({ prev_hash, entry, canonical_json, entry_hash }) => {
    expect(entry.boot).toBe(inputs.boot)
    expect(canonicalJson(entry)).toBe(canonical_json)
    expect(JSON.parse(canonical_json)).toEqual(entry)
    expect(computeAuditEntryHash(prev_hash, entry)).toBe(entry_hash)
  })

  test('behavior: each chain runs from the genesis hash, seq 1, 2, … with each prev_hash the entry before', () => {
    expect(inputs.genesis_hash).toBe(AUDIT_GENESIS_HASH)
    for (const appId of [49, CLUSTER_CHAIN] as const) {
      let previous = AUDIT_GENESIS_HASH
      chainOf(appId).forEach((entry, index) => {
        expect(entry.entry.seq).toBe(index + 1)
        expect(entry.prev_hash).toBe(previous)
        previous = entry.entry_hash
      })
      expect(headCases.find((head) => head.app_id === appId)!.head).toEqual({ seq: chainOf(appId).length, hash: previous, dropped: 0 })
    }
  })

  test("behavior: the node's AuditLog, given the file's boot, request ids, clock and ops, makes exactly these entries and heads", () => {
    const log = replay()
    expect(log.boot).toBe(inputs.boot)
    for (const appId of [49, CLUSTER_CHAIN] as const) {
      const page = log.page(appId, 0)
      expect(page.entries).toEqual(chainOf(appId).map(({ entry, entry_hash }) => ({ ...entry, hash: entry_hash })))
    }
    for (const { app_id, head } of headCases) expect(log.head(app_id)).toEqual(head)
  })

  test.each(headCases)('vector: $name: message, EIP-191 digest and the node signature (§14.4, §3.1.2)', async ({ app_id, head, tee_pubkey, wallet, message, eip191_digest, signature }) => {
    expect({ tee_pubkey, wallet }).toEqual({ tee_pubkey: inputs.tee_pubkey, wallet: inputs.node_wallet })
    expect(buildAuditHeadMessage({ appId: app_id, seq: head.seq, headHash: head.hash, dropped: head.dropped, teePubkeyHex: tee_pubkey, wallet })).toBe(message)
    expect(message).toBe(`NovaKMS:AuditHead:${app_id}:${head.seq}:${head.hash}:${head.dropped}:${tee_pubkey}:${wallet}`)
    expect(bytesToHex(hashEip191Message(message))).toBe(eip191_digest)
    expect(signMessageWithKey(hex(inputs.node_private_key), message)).toBe(signature)
    expect(signature).toMatch(/^0x[0-9a-f]{128}0[01]$/)
    expect(recoverMessageSigner(message, signature)).toBe(wallet)
    // The node signs through its Tee; the local stand-in holds the same keys and must agree.
    const tee = await nodeTee()
    expect(await tee.getWallet()).toBe(wallet)
    expect(bytesToHex(await tee.getEncryptionPublicKey())).toBe(tee_pubkey)
    expect(await tee.signMessage(message)).toBe(signature)
  })

  test.each(pageCases)('vector: $name is the AuditLog page, signed, and verifyAuditPage accepts it', ({ app_id, since, page }) => {
    const head = headCases.find((entry) => entry.app_id === app_id)!
    expect(page).toEqual({ ...replay().page(app_id, since), head_signature: head.signature })
    const verified = verifyAuditPage({ page, appId: app_id, since, node })
    expect(verified.entries.map((entry) => entry.seq)).toEqual(chainOf(app_id).slice(since).map((entry) => entry.entry.seq))
    expect(verified.cursor).toEqual({ boot: inputs.boot, seq: head.head.seq, hash: head.head.hash })
    expect(verified.continuity).toEqual({ kind: 'first' })
    // Read after a first page that ended at `since`, it continues that read.
    const before = chainOf(app_id)[since - 1]!
    const previous = { boot: inputs.boot, seq: since, hash: before.entry_hash }
    expect(verifyAuditPage({ page, appId: app_id, since, node, previous }).continuity).toEqual({ kind: 'continued' })
  })

  test('error: one character changed in any member of any entry of the page is a hash mismatch', () => {
    const { page, since } = pageCases[0]!
    expect(rejection(page, since)).toBe('verified')
    // seq, app_id and boot are checked before the hash, with codes of their own.
    const hashedOnly = ['request_id', 'at_ms', 'op', 'path', 'context', 'length', 'epoch', 'key', 'count', 'serial', 'not_after_s']
    let changed = 0
    page.entries.forEach((entry, index) => {
      for (const member of Object.keys(entry).filter((name) => hashedOnly.includes(name))) {
        const tampered = structuredClone(page) as unknown as { entries: Record<string, unknown>[] }
        const target = tampered.entries[index]!
        const value = target[member]
        if (typeof value === 'string') target[member] = value.slice(0, -1) + (value.endsWith('0') ? '1' : '0')
        else if (typeof value === 'number') target[member] = value + 1
        else target[member] = { ...(value as Record<string, number>), app: (value as Record<string, number>)['app']! + 1 }
        expect(rejection(tampered, since), `entry ${index}, ${member}`).toBe('hash_mismatch')
        changed++
      }
    })
    expect(changed).toBeGreaterThanOrEqual(page.entries.length * 3)
  })

  test('error: a changed head, head signature, claimed hash, or another node key is refused', () => {
    const { page, since } = pageCases[0]!
    const lastByteFlipped = (text: string) => text.slice(0, -2) + (text.endsWith('00') ? '01' : '00')
    expect(rejection({ ...page, head_signature: lastByteFlipped(page.head_signature) }, since)).toBe('bad_signature')
    expect(rejection({ ...page, head: { ...page.head, hash: lastByteFlipped(page.head.hash) } }, since)).toBe('bad_signature')
    expect(rejection({ ...page, head: { ...page.head, dropped: 1 } }, since)).toBe('bad_signature')
    const entries = page.entries.map((entry, index) => (index === 0 ? { ...entry, hash: lastByteFlipped(entry.hash) } : entry))
    expect(rejection({ ...page, entries }, since)).toBe('hash_mismatch')
    expect(rejection({ ...page, entries: page.entries.slice(0, -1) }, since)).toBe('truncated')
    const otherTee = { ...node, teePubkeyDer: hex(inputs.tee_pubkey.slice(0, -2) + '00') }
    expect(() => verifyAuditPage({ page, appId: pageCases[0]!.app_id, since, node: otherTee })).toThrow(/bad_signature/)
  })

  test('vector: the project code alone rebuilds the whole file, byte for byte, from its inputs and ops', async () => {
    const log = replay()
    const tee = await nodeTee()
    const teePubkeyHex = bytesToHex(await tee.getEncryptionPublicKey())
    const wallet = await tee.getWallet()
    const signatures = new Map<AuditChainId, `0x${string}`>()
    const cases: AuditCase[] = []
    for (const original of vectors.cases) {
      if (original.kind === 'audit_entry') {
        const { app_id: appId, seq } = original.entry
        const { hash, ...stored } = log.page(appId, seq - 1).entries[0]!
        const prevHash = log.page(appId, seq - 1).prev_hash
        const { boot, request_id, at_ms } = stored
        // §14.2's member order with the op's members as the file lists them; canonical JSON sorts them for the hash.
        const entry = { seq, boot, app_id: appId, request_id, at_ms, ...opOf(original.entry) } as AuditEntry
        expect(entry).toEqual(stored)
        cases.push({ name: original.name, kind: 'audit_entry', prev_hash: prevHash, entry, canonical_json: canonicalJson(stored), entry_hash: hash })
      } else if (original.kind === 'audit_head') {
        const head = log.head(original.app_id)
        const message = buildAuditHeadMessage({ appId: original.app_id, seq: head.seq, headHash: head.hash, dropped: head.dropped, teePubkeyHex, wallet })
        const signature = await tee.signMessage(message)
        signatures.set(original.app_id, signature)
        cases.push({ name: original.name, kind: 'audit_head', app_id: original.app_id, head, tee_pubkey: teePubkeyHex, wallet, message, eip191_digest: bytesToHex(hashEip191Message(message)), signature })
      } else {
        const { since, app_id } = original
        const unsigned = log.page(app_id, since)
        // The page's members in §14.4's order, entries in §14.2's order with "hash" last.
        const entries = unsigned.entries.map(({ seq, boot, app_id: appId, request_id, at_ms, hash, ...op }) => ({ seq, boot, app_id: appId, request_id, at_ms, ...op, hash }) as AuditEntry & { hash: string })
        const page: AuditPage = { app_id, boot: unsigned.boot, since, prev_hash: unsigned.prev_hash, entries, head: unsigned.head, head_signature: signatures.get(app_id)!, more: unsigned.more }
        cases.push({ name: original.name, kind: 'audit_page', app_id, since, page })
      }
    }
    const rebuiltInputs: Inputs = { ...inputs, boot: log.boot, node_wallet: wallet, tee_pubkey: teePubkeyHex, genesis_hash: AUDIT_GENESIS_HASH }
    const rebuilt: AuditVectorFile = { description: vectorFile.description, source: vectorFile.source, inputs: rebuiltInputs, cases }
    expect(JSON.stringify(rebuilt, null, 2) + '\n').toBe(fileText)
  })
})
