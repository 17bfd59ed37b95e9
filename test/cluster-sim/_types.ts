/** The vocabulary of the cluster simulation: its constants, schedule steps and what a run records. */
import type { VectorClock } from '../../core/store'

/** §11 MAX_CLOCK_SKEW_MS. */
export const MAX_CLOCK_SKEW_MS = 15_000
/** The two data apps: enough to see that namespaces never leak into each other (§6.1). */
export const APPS = [1, 2] as const
/** A small key alphabet, so that writes conflict often; one key is not ASCII. */
export const KEYS = ['a', 'b', 'é'] as const
/** 2026-01-01T00:00:00Z. */
export const T0 = 1_767_225_600_000
/** The epoch a rotation opens: every node starts holding epoch 0 only. */
export const ROTATION_EPOCH = 1

/** A schedule step. Node numbers are taken modulo the cluster size, so shrinking never breaks a schedule. */
export type SimOp =
  | { readonly kind: 'put'; readonly node: number; readonly app: number; readonly key: string; readonly order: number }
  | { readonly kind: 'delete'; readonly node: number; readonly app: number; readonly key: string }
  | { readonly kind: 'tick'; readonly node: number }
  | { readonly kind: 'rejoin'; readonly node: number; readonly from: number }
  /** `timeout` fails the sender's request but leaves the body in flight: it may still arrive. */
  | { readonly kind: 'deliver' | 'drop' | 'duplicate' | 'delay' | 'timeout'; readonly pick: number }
  | { readonly kind: 'reorder'; readonly pick: number; readonly other: number }
  | { readonly kind: 'partition'; readonly sides: readonly number[] }
  | { readonly kind: 'heal' }
  /** One link down or up: A–B and B–C up with A–C down is a partition no `sides` can express. */
  | { readonly kind: 'cut' | 'link'; readonly a: number; readonly b: number }
  /** The host moves one node's clock by `ms` (either way), mid-run. */
  | { readonly kind: 'shift'; readonly node: number; readonly ms: number }
  | { readonly kind: 'advance'; readonly ms: number }
  /** A key rotation (§7.7): the node installs epoch `ROTATION_EPOCH`, which becomes its serving epoch. */
  | { readonly kind: 'acquire'; readonly node: number }
  /** The node starts a re-encryption batch of at most `limit` records (§6.10), unless one runs there. */
  | { readonly kind: 'reencrypt'; readonly node: number; readonly limit: number }
  /** The node's oldest re-encryption in progress completes, or throws (§6.10 `failed`). */
  | { readonly kind: 'crypto'; readonly node: number; readonly fail: boolean }

export interface Schedule {
  readonly nodes: number
  /** Added to the shared clock on each node; the first `nodes` entries are used. */
  readonly skewsMs: readonly number[]
  /** MAX_SYNC_PAYLOAD_BYTES: small values make §6.8 step 3 split a push into several bodies. */
  readonly maxSyncPayloadBytes: number
  readonly ops: readonly SimOp[]
}

/** A local put or delete that the node acknowledged, as the client was told (§6.2). */
export interface AckedWrite {
  readonly id: number
  readonly node: number
  readonly appId: number
  readonly key: string
  readonly clock: VectorClock
  readonly updatedAtMs: number
  readonly ciphertext: Uint8Array
  /** The writer's serving epoch (§7.7), under which `ciphertext` was made; 0 for a delete. */
  readonly keyEpoch: number
  readonly tombstone: boolean
}

/** The §4.3 delta-answer counts of one ingest. */
export interface IngestCounts {
  readonly total: number
  readonly merged: number
  readonly skipped: number
  readonly rejected: number
  readonly tieBreaks: number
}

export interface SimStats {
  sent: number
  delivered: number
  lost: number
  duplicated: number
  pushFailures: number
  snapshotPulls: number
  rejected: number
  tieBreaks: number
  /** Records that arrived exactly MAX_CLOCK_SKEW_MS ahead of the receiver: the §6.7 bound, still accepted. */
  atSkewBound: number
  /** §6.10 batches: records re-encrypted, results discarded because the record changed meanwhile, failures. */
  reencrypted: number
  discarded: number
  reencryptFailures: number
}
