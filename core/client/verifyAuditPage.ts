/**
 * The client's check of an audit page (PROTOCOL §14.4 "Client check"), and of its continuity
 * with the page read before it from the same node. Any app, browser or auditor can run it:
 * it needs only the page and the node's registry identity.
 */
import { AUDIT_GENESIS_HASH, buildAuditHeadMessage, computeAuditEntryHash, type AuditChainId, type AuditEntry, type AuditHead } from '../audit'
import { recoverMessageSigner } from '../crypto'
import { bytesToHex, type Wallet } from '../encoding'
import { NovaKmsError } from './novaKmsError'

export type AuditVerificationCode = 'malformed' | 'bad_signature' | 'hash_mismatch' | 'seq_gap' | 'wrong_app' | 'wrong_boot' | 'truncated' | 'fork'

/** A page that does not verify: which check failed, by its code. */
export class AuditVerificationError extends NovaKmsError {
  override readonly name = 'AuditVerificationError'
  declare readonly code: AuditVerificationCode
  constructor(code: AuditVerificationCode, message: string) {
    super(`audit page rejected (${code}): ${message}`, { code, details: message })
  }
}

/** Where the previous verified read of this node's chain ended. */
export interface AuditCursor {
  boot: string
  seq: number
  hash: string
}

export interface VerifiedAuditPage {
  boot: string
  entries: (AuditEntry & { hash: string })[]
  head: AuditHead
  headSignature: string
  more: boolean
  /** The cursor to pass to the next read (`since` = its `seq`). */
  cursor: AuditCursor
  /**
   * Against the previous cursor: `first` without one; `continued` when this page extends it;
   * `restarted` when the node's boot changed (a new chain); `gap` when entries after the
   * cursor were dropped by the node's bounds (§14.3) before this read, `missed` of them.
   */
  continuity: { kind: 'first' | 'continued' | 'restarted' } | { kind: 'gap'; missed: number }
}

const HEX64 = /^[0-9a-f]{64}$/
const HEX32 = /^[0-9a-f]{32}$/

function fail(code: AuditVerificationCode, message: string): never {
  throw new AuditVerificationError(code, message)
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function readHead(value: unknown): AuditHead {
  const head = value as Partial<AuditHead> | null
  if (typeof head !== 'object' || head === null || !isCount(head.seq) || !isCount(head.dropped) || typeof head.hash !== 'string' || !HEX64.test(head.hash)) {
    fail('malformed', 'head is not {seq, hash, dropped}')
  }
  if (head.dropped > head.seq) fail('malformed', 'head drops more entries than it has')
  return { seq: head.seq, hash: head.hash, dropped: head.dropped }
}

/**
 * Verifies one page for `appId` (or `"cluster"`) from the node `node`, read with `since`.
 * @throws AuditVerificationError naming the first check that failed.
 */
export function verifyAuditPage(params: {
  page: unknown
  appId: AuditChainId
  since: number
  node: { wallet: Wallet; teePubkeyDer: Uint8Array }
  /** The previous read's cursor for this node, for the continuity check. */
  previous?: AuditCursor
}): VerifiedAuditPage {
  const { appId, since, node, previous } = params
  const page = params.page as Record<string, unknown> | null
  if (typeof page !== 'object' || page === null) fail('malformed', 'page is not an object')
  if (page['app_id'] !== appId) fail('wrong_app', `page is for ${String(page['app_id'])}, not ${appId}`)
  const boot = page['boot']
  if (typeof boot !== 'string' || !HEX32.test(boot)) fail('malformed', 'boot is not 16 bytes of hex')
  if (page['since'] !== since) fail('malformed', 'page answers another since')
  const prevHash = page['prev_hash']
  if (typeof prevHash !== 'string' || !HEX64.test(prevHash)) fail('malformed', 'prev_hash is not 32 bytes of hex')
  const head = readHead(page['head'])
  const headSignature = page['head_signature']
  const more = page['more']
  const entries = page['entries']
  if (typeof headSignature !== 'string' || typeof more !== 'boolean' || !Array.isArray(entries)) fail('malformed', 'page lacks head_signature, more or entries')

  // The head is the node's signed statement: check it before trusting anything it anchors.
  const message = buildAuditHeadMessage({ appId, seq: head.seq, headHash: head.hash, dropped: head.dropped, teePubkeyHex: bytesToHex(node.teePubkeyDer), wallet: node.wallet })
  let signer: Wallet
  try {
    signer = recoverMessageSigner(message, headSignature)
  } catch {
    fail('bad_signature', 'head_signature does not parse')
  }
  if (signer !== node.wallet) fail('bad_signature', 'head_signature is not the node wallet\'s')

  if (since > head.seq) fail('truncated', 'since is beyond the signed head')
  let expectedSeq = Math.max(since, head.dropped) + 1
  if (expectedSeq === 1 && prevHash !== AUDIT_GENESIS_HASH) fail('hash_mismatch', 'the first entry must follow the genesis hash')
  let hash = prevHash
  const verified: (AuditEntry & { hash: string })[] = []
  for (const raw of entries as unknown[]) {
    if (typeof raw !== 'object' || raw === null) fail('malformed', 'an entry is not an object')
    const { hash: claimed, ...entry } = raw as AuditEntry & { hash: unknown }
    if (entry.app_id !== appId) fail('wrong_app', `entry ${String(entry.seq)} belongs to ${String(entry.app_id)}`)
    if (entry.boot !== boot) fail('wrong_boot', `entry ${String(entry.seq)} is from another boot`)
    if (entry.seq !== expectedSeq) fail('seq_gap', `expected seq ${expectedSeq}, got ${String(entry.seq)}`)
    hash = computeAuditEntryHash(hash, entry as AuditEntry)
    if (claimed !== hash) fail('hash_mismatch', `entry ${expectedSeq} does not hash to its claimed hash`)
    verified.push({ ...(entry as AuditEntry), hash })
    expectedSeq++
  }
  const lastSeq = expectedSeq - 1
  if (lastSeq > head.seq) fail('truncated', 'entries run past the signed head')
  if (!more && (lastSeq !== head.seq || hash !== head.hash)) fail('truncated', `the page ends at ${lastSeq}, but the signed head is ${head.seq}`)

  const cursor: AuditCursor = { boot, seq: lastSeq, hash }
  let continuity: VerifiedAuditPage['continuity'] = { kind: 'first' }
  if (previous !== undefined) {
    if (previous.boot !== boot) continuity = { kind: 'restarted' }
    else if (head.seq < previous.seq) fail('fork', `the head went back from ${previous.seq} to ${head.seq}`)
    else if (since !== previous.seq) fail('malformed', 'a continuing read must ask since the previous cursor')
    else if (head.dropped > previous.seq) continuity = { kind: 'gap', missed: head.dropped - previous.seq }
    else if (prevHash !== previous.hash) fail('fork', `the chain at seq ${previous.seq} is not the one read before`)
    else continuity = { kind: 'continued' }
  }
  return { boot, entries: verified, head, headSignature, more, cursor, continuity }
}
