/**
 * The `/sync` dispatch (PROTOCOL §4.2 step 8, §4.3): what a node answers to an authenticated,
 * decrypted peer payload. Authentication happens before this (functions/sync.ts).
 */
import type { SealedMasterSecret } from '../crypto'
import { bytesToHex, parseHex, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { Random } from '../runtime'
import type { CanDecrypt, KvStore, SnapshotCursor } from '../store'
import type { PeerWatermarks } from './peerWatermarks'
import { encodeSnapshotCursor, MIN_SNAPSHOT_PAGE_BYTES, parseSnapshotCursor, syncDataBudget } from './snapshotCursor'

const DEFAULT_MAX_PAGE_BYTES = syncDataBudget(52_428_800)

export interface AnswerSyncContext {
  store: Pick<KvStore, 'ingest' | 'snapshot' | 'snapshotPage'>
  /**
   * Who sent the delta, and the journal that remembers where each stored record came from, so
   * that it is never pushed back there (§6.8). Absent: nothing is journaled (tests of the answer alone).
   */
  relay?: { sender: Wallet; watermarks: Pick<PeerWatermarks, 'received'>; cached: ReadonlySet<Wallet> }
  canDecrypt: CanDecrypt
  /**
   * The live key epochs this node does not hold yet (§7.7: committed, and it will fetch them).
   * A record under one of them is refused now and named in `refused_key_epochs`, so its sender
   * pushes it again once this node holds the epoch. Absent: none.
   */
  awaitedKeyEpochs?: () => ReadonlySet<number>
  /**
   * The largest `data` of a snapshot page this node sends: `syncDataBudget(MAX_SYNC_PAYLOAD_BYTES)`;
   * by default that of the §11 default.
   */
  maxPageBytes?: number
  /** The key ring's sealing of `epoch`'s secret to a requester's ephemeral key (§5.5, §7.7). */
  sealSecretFor(requesterPublicKeyDer: Uint8Array, random: Random, epoch: number): Promise<SealedMasterSecret>
  /**
   * The fresh registry check of the requester for `epoch` (§7.7, `checkSecretRecipient`);
   * it throws to refuse. Absent: no check (tests of the answer alone).
   */
  authorizeSecretRecipient?(epoch: number): Promise<void>
  random: Random
}

function badRequest(message: string): KmsError {
  return new KmsError('bad_request', message)
}

/** The payload's `type`; a missing or non-string one counts as `""` (as in (c)). */
export function syncTypeOf(payload: Record<string, unknown>): string {
  return typeof payload['type'] === 'string' ? payload['type'] : ''
}

/**
 * `snapshot_request` (§4.3). With `cursor` or `max_bytes`, one bounded page and the cursor of
 * the next (`null` after the last). With neither, as before pages existed, every record in
 * one answer, for a requester from before 2026-12.
 * @throws KmsError 400 `Invalid snapshot cursor`, `Invalid snapshot max_bytes`
 */
function answerSnapshot(payload: Record<string, unknown>, context: AnswerSyncContext): Record<string, unknown> {
  const cursorField = payload['cursor']
  const maxBytesField = payload['max_bytes']
  if (cursorField === undefined && maxBytesField === undefined) return { status: 'ok', data: context.store.snapshot() }
  let after: SnapshotCursor | null = null
  if (cursorField !== undefined && cursorField !== null) {
    const parsed = typeof cursorField === 'string' ? parseSnapshotCursor(cursorField) : undefined
    if (parsed === undefined) throw badRequest('Invalid snapshot cursor')
    after = parsed
  }
  const ownMax = context.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES
  let maxBytes = ownMax
  if (maxBytesField !== undefined) {
    if (typeof maxBytesField !== 'number' || !Number.isSafeInteger(maxBytesField) || maxBytesField < 1) throw badRequest('Invalid snapshot max_bytes')
    maxBytes = Math.min(ownMax, Math.max(maxBytesField, MIN_SNAPSHOT_PAGE_BYTES))
  }
  const page = context.store.snapshotPage(after, maxBytes)
  return { status: 'ok', data: page.data, next_cursor: page.next === null ? null : encodeSnapshotCursor(page.next) }
}

/**
 * Runs one sync request.
 * @throws KmsError 400 for an unknown type, a bad `ecdh_pubkey`, or a bad snapshot cursor or `max_bytes`.
 */
export async function answerSync(payload: Record<string, unknown>, context: AnswerSyncContext): Promise<Record<string, unknown>> {
  const type = syncTypeOf(payload)
  switch (type) {
    case 'delta': {
      // §6.7 refuses a record beyond MAX_CLOCK_SKEW_MS; the earliest such `updated_at_ms` tells
      // the sender which records to push again, once this node's clock has caught up (§6.8).
      let refusedAheadFromMs: number | undefined
      const awaited = context.awaitedKeyEpochs?.() ?? new Set<number>()
      const refusedEpochs = new Set<number>()
      const canDecrypt: CanDecrypt = async (appId, ciphertext, keyEpoch) => {
        if (awaited.has(keyEpoch)) {
          refusedEpochs.add(keyEpoch)
          return false
        }
        return context.canDecrypt(appId, ciphertext, keyEpoch)
      }
      const journal = context.relay === undefined ? undefined : context.relay.watermarks.received(context.relay.sender, payload, context.relay.cached)
      const counts = await context.store.ingest(payload['data'], canDecrypt, {
        ...journal,
        refusedAhead: (updatedAtMs) => {
          refusedAheadFromMs = Math.min(refusedAheadFromMs ?? updatedAtMs, updatedAtMs)
        },
      })
      return {
        status: 'ok',
        ...counts,
        ...(refusedAheadFromMs === undefined ? {} : { refused_ahead_from_ms: refusedAheadFromMs }),
        ...(refusedEpochs.size === 0 ? {} : { refused_key_epochs: [...refusedEpochs].sort((left, right) => left - right) }),
      }
    }
    case 'snapshot_request':
      return answerSnapshot(payload, context)
    case 'master_secret_request': {
      const ecdhPubkey = payload['ecdh_pubkey']
      if (typeof ecdhPubkey !== 'string' || ecdhPubkey === '') throw badRequest('Sealed ECDH pubkey required for master secret exchange')
      const requesterPublicKeyDer = parseHex(ecdhPubkey)
      if (requesterPublicKeyDer === undefined) throw badRequest('Invalid ecdh_pubkey hex')
      // §7.7: absent means epoch 0, as every requester from before epochs asks.
      const epoch = payload['epoch'] ?? 0
      if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) throw badRequest('Invalid epoch')
      await context.authorizeSecretRecipient?.(epoch)
      // Sealing refuses a key that is not a P-384 point with `Invalid peer ECDH public key`,
      // and an epoch not held with 503.
      const sealed = await context.sealSecretFor(requesterPublicKeyDer, context.random, epoch)
      return {
        status: 'ok',
        ...(epoch === 0 ? {} : { epoch }),
        sealed: {
          ephemeral_pubkey: bytesToHex(sealed.ephemeralPublicKeyDer),
          encrypted_data: bytesToHex(sealed.encryptedData),
          nonce: bytesToHex(sealed.nonce),
        },
      }
    }
    default:
      throw badRequest(`Unknown sync type: ${type}`)
  }
}
