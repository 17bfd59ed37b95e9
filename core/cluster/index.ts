/**
 * `core/cluster`: the master-secret lifecycle and readiness (node_tick), the peer cache,
 * and (issue 5) the /sync client and server logic (PROTOCOL §4, §7).
 *
 * @module
 */
export { PeerCache, peerEndpoint, type Peer, type PeerCacheOptions, type PeerRegistryView, type StatusProbe } from './peerCache'
export { Readiness, type UnavailableReason } from './readiness'
export { runNodeTick, type ChainEpochView, type EpochStatus, type NodeTickContext, type NodeTickEpochs, type PeerSecretSource } from './nodeTick'
export { checkSecretRecipient, type SecretRecipientCheck } from './secretRecipient'
export { withRetries, type Sleep } from './retry'
export { TickSchedule, UNAVAILABLE_RETRY_SECONDS, type TickName } from './tickSchedule'
export { SyncClient, SYNC_TIMEOUTS_MS, type SyncClientOptions, type SyncType } from './syncClient'
export { answerSync, syncTypeOf, type AnswerSyncContext } from './answerSync'
export { runSyncTick, PeerWatermarks, type SyncTickContext, type SyncTickResult } from './syncTick'
export { probePeers, STATUS_PROBE_TIMEOUT_MS } from './probePeers'
export { fetchPeer, isRedirect, readBoundedBody, PEER_REPLY_LIMITS, type PeerResponse } from './peerHttp'
export { SyncVersions } from './syncVersions'
export {
  compareSnapshotCursors,
  encodeSnapshotCursor,
  parseSnapshotCursor,
  syncDataBudget,
  MAX_SNAPSHOT_PAGES,
  MIN_SNAPSHOT_PAGE_BYTES,
  SNAPSHOT_PULL_DEADLINE_MS,
} from './snapshotCursor'
