/**
 * `node_tick` (PROTOCOL §7.1): establishes who the node is, which peers exist, and that its
 * master secret is the one the chain commits to. It is the only place that makes a node
 * available, which is what upholds the anti-split-brain invariant of §7.5.
 */
import { isPeerAttestationError } from '../auth/peerAttestationError'
import type { Mode } from '../config'
import { bytesEqual, type Wallet } from '../encoding'
import { KmsError } from '../errors'
import type { KmsRecoveryReader, RecoveryPolicy } from '../chain/types'
import type { KeyRing, RecoveryBackupPayload } from '../keys'
import type { RecoveryProgress } from '../recovery/recoveryProgress'
import type { Random } from '../runtime'
import type { Tee } from '../tee'
import type { Peer, PeerCache } from './peerCache'
import type { Readiness, UnavailableReason } from './readiness'
import { withRetries, type Sleep } from './retry'

/** What joining needs from the `/sync` client (§4.1): issue 5's PeerSyncClient implements it. */
export interface PeerSecretSource {
  /** `master_secret_request` to `peer`, unsealed: the 32-byte secret. */
  requestMasterSecret(peer: Peer): Promise<Uint8Array>
  /** `snapshot_request` to `peer`, validated and merged into the local store. */
  pullSnapshot(peer: Peer): Promise<void>
}

/** Issue 15's recovery collaborators (§7.6); without them the tick behaves as before. */
export interface NodeTickRecovery {
  reader: Pick<KmsRecoveryReader, 'activeRecoveryPolicy' | 'backup'>
  progress: RecoveryProgress
  /** Splits, seals and commits the installed secret for `policy` (the key ring does it). */
  buildBackup(policy: RecoveryPolicy): Promise<RecoveryBackupPayload>
  /** `publishBackup` through the node's signer (§9.3), resolved once sent. */
  publishBackup(backup: RecoveryBackupPayload): Promise<void>
  /** True when a failed publish reverted with `BackupAlreadyPublished`: another node won. */
  isAlreadyPublished(error: unknown): boolean
}

export interface NodeTickContext {
  mode: Mode
  tee: Pick<Tee, 'getWallet' | 'randomBytes' | 'getEncryptionPublicKey'>
  random: Random
  sleep: Sleep
  peers: PeerCache
  /** The key ring: the only holder of the secret; the tick installs and compares through it. */
  keys: Pick<KeyRing, 'isInstalled' | 'hash' | 'matches' | 'install' | 'installIfCommitted'>
  readiness: Readiness
  readMasterSecretHash(): Promise<Uint8Array>
  submitMasterSecretHash(hash: Uint8Array): Promise<void>
  peerSecrets: PeerSecretSource
  /** Drops records that a replaced secret can no longer decrypt (§7.1 step 7, SHOULD). */
  clearStore(): void
  /** Mutable node identity: the wallet and own URL are learnt here. */
  identity: { wallet: Wallet | undefined; instanceUrl: string }
  /** True once any snapshot has been merged since the process started (§7.1 step 8). */
  snapshotMerged: { value: boolean }
  /**
   * The test build in enclave mode only: where its own document's root is from. It serves
   * only under the dev root, so it can never run as a production node (§4.5).
   */
  ownAttestationRoot?: () => Promise<'dev' | 'aws' | 'unreadable'>
  /** Enclave mode: probe each peer's `/status` for `/nodes` (§7.2). */
  probePeers(): Promise<void>
  recovery?: NodeTickRecovery
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void
}

/** The error's message for a log line, with its cause when it has one (never key material). */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const cause = error.cause === undefined ? '' : ` (cause: ${describe(error.cause)})`
  return `${error.message}${cause}`
}

const ZERO_HASH = new Uint8Array(32)

class TickStop {
  constructor(readonly reason: UnavailableReason) {}
}

/** Runs one tick. A step that sets a reason makes the node unavailable and ends the tick. */
export async function runNodeTick(context: NodeTickContext): Promise<void> {
  try {
    await tick(context)
  } catch (error) {
    if (!(error instanceof TickStop)) throw error
    context.readiness.markUnavailable(error.reason)
  }
}

async function tick(context: NodeTickContext): Promise<void> {
  const { mode, tee, sleep, peers, keys, readiness, identity } = context
  context.recovery?.progress.tick()

  // 1. The wallet (enclave mode reads it from the helper every tick and adopts changes).
  if (mode === 'enclave' || identity.wallet === undefined) {
    const wallet = await withRetries(() => tee.getWallet(), sleep).catch((error: unknown) => {
      context.log('warn', 'cannot read node wallet', { error: describe(error) })
      return undefined
    })
    if (wallet !== undefined) identity.wallet = wallet
    if (identity.wallet === undefined) throw new TickStop('cannot read node wallet')
  }
  const ownWallet = identity.wallet
  if (context.ownAttestationRoot !== undefined) {
    const root = await context.ownAttestationRoot()
    if (root === 'aws') throw new TickStop('test build refuses an AWS-rooted enclave')
    if (root === 'unreadable') throw new TickStop('cannot read own attestation')
  }

  // 2. The peer cache; a stale cache is better than none.
  const refreshed = await withRetries(() => peers.refresh(), sleep).then(
    () => true,
    (error: unknown) => {
      context.log('warn', 'peer cache refresh failed', { error: describe(error) })
      return false
    },
  )
  if (!refreshed && peers.peers.length === 0) {
    readiness.isOperator = false
    throw new TickStop('peer cache refresh failed')
  }

  if (mode === 'enclave' && refreshed) await context.probePeers()

  // 3. Self-membership.
  const self = peers.find(ownWallet)
  if (self === undefined) {
    readiness.isOperator = false
    throw new TickStop('self not in KMS node list')
  }
  readiness.isOperator = true
  if (identity.instanceUrl === '') identity.instanceUrl = self.url

  // 4. The local teePubkey must be the registered one, or peers could not reach us.
  const localKey = await withRetries(() => tee.getEncryptionPublicKey(), sleep).catch((error: unknown) => {
    context.log('warn', 'cannot read local teePubkey', { error: describe(error) })
    return undefined
  })
  if (localKey === undefined) throw new TickStop('cannot read local teePubkey')
  if (!bytesEqual(localKey, self.teePubkeyDer)) throw new TickStop('local teePubkey mismatch with registry')

  // 5. The chain's commitment.
  const chainHash = await withRetries(() => context.readMasterSecretHash(), sleep).catch((error: unknown) => {
    context.log('warn', 'cannot read master secret hash', { error: describe(error) })
    return undefined
  })
  if (chainHash === undefined) throw new TickStop('cannot read master secret hash')

  if (bytesEqual(chainHash, ZERO_HASH)) await commitSecret(context)
  else if (!keys.matches(chainHash)) await joinCluster(context, chainHash, ownWallet)

  // 8. The hash matches.
  if (!keys.isInstalled) throw new TickStop('master secret not initialized')
  context.recovery?.progress.stopAwaiting()
  if (!context.snapshotMerged.value) await coldStartSnapshot(context, ownWallet)
  readiness.markAvailable()
  if (context.recovery !== undefined) await publishBackupIfMissing(context.recovery, chainHash, context.log)
}

/**
 * §7.6 backup publishing, once the node serves. Never makes the node unavailable: a backup is
 * not needed to serve. A chain read that fails means "not now" (fail closed: nothing is sent
 * on a guess); only the first transaction per (hash, policy) wins, so a loser's revert is
 * normal. A submitted backup is not rebuilt until BACKUP_RESUBMIT_TICKS ticks have passed.
 */
async function publishBackupIfMissing(recovery: NodeTickRecovery, chainHash: Uint8Array, log: NodeTickContext['log']): Promise<void> {
  const { reader, progress } = recovery
  let policy: RecoveryPolicy | undefined
  try {
    policy = await reader.activeRecoveryPolicy()
    if (policy === undefined) return
    if ((await reader.backup(chainHash, policy.policyId)) !== undefined) {
      progress.markPublished()
      return
    }
  } catch (error) {
    log('warn', 'cannot read recovery policy or backup; backup not published this tick', { error: describe(error) })
    return
  }
  if (!progress.mayPublish(chainHash, policy.policyId)) return
  let backup: RecoveryBackupPayload
  try {
    backup = await recovery.buildBackup(policy)
  } catch (error) {
    if (error instanceof KmsError && error.code === 'bad_request') {
      // Not retried every tick: the policy will not change by itself.
      log('error', 'recovery policy has an invalid custodian key; no backup published', { policy_id: policy.policyId, error: describe(error) })
      progress.markSubmitted(chainHash, policy.policyId)
    } else {
      log('warn', 'cannot build the recovery backup; retried next tick', { policy_id: policy.policyId, error: describe(error) })
    }
    return
  }
  progress.markSubmitted(chainHash, policy.policyId)
  try {
    await recovery.publishBackup(backup)
    log('info', 'published the recovery backup', { policy_id: policy.policyId })
  } catch (error) {
    if (recovery.isAlreadyPublished(error)) {
      progress.markPublished()
      log('info', 'recovery backup already published by another node', { policy_id: policy.policyId })
    } else {
      log('warn', 'publishBackup failed; retried on a later tick', { policy_id: policy.policyId, error: describe(error) })
    }
  }
}

/**
 * §7.1 step 7 when no peer gave the secret (§7.6): with a backup for (chain hash, active
 * policy) the node awaits custodian shares instead. A failed chain read fails closed.
 */
async function awaitRecoveryOr(context: NodeTickContext, chainHash: Uint8Array, fallback: UnavailableReason): Promise<never> {
  const recovery = context.recovery
  if (recovery === undefined) throw new TickStop(fallback)
  let reason: UnavailableReason = fallback
  try {
    const policy = await recovery.reader.activeRecoveryPolicy()
    const backup = policy === undefined ? undefined : await recovery.reader.backup(chainHash, policy.policyId)
    if (policy === undefined || backup === undefined) {
      recovery.progress.stopAwaiting()
    } else {
      const { collector } = recovery.progress.await(chainHash, policy, backup)
      reason = `awaiting recovery shares (${collector.received}/${collector.threshold})`
    }
  } catch (error) {
    // Collected shares are kept: an RPC outage must not throw away custodians' work.
    context.log('warn', 'cannot read recovery policy', { error: describe(error) })
    reason = 'cannot read recovery policy'
  }
  throw new TickStop(reason)
}

/** Step 6: the hash is zero, so commit the local secret (generating one if needed). */
async function commitSecret(context: NodeTickContext): Promise<never> {
  const { tee, sleep, keys, mode, random } = context
  if (!keys.isInstalled) {
    const fromHelper = await withRetries(() => tee.randomBytes(), sleep).catch((error: unknown) => {
      context.log('warn', 'cannot get random bytes from the helper', { error: describe(error) })
      return undefined
    })
    const bytes = fromHelper ?? (mode === 'dev' ? random.bytes(32) : undefined)
    if (bytes === undefined || bytes.length < 32) throw new TickStop('cannot get random bytes from odyn')
    await keys.install(bytes.slice(0, 32), 'generated')
    context.log('info', 'generated a new master secret')
  }
  const hash = keys.hash
  if (hash === undefined) throw new TickStop('local master secret hash unavailable')
  const submitted = await withRetries(() => context.submitMasterSecretHash(hash), sleep).then(
    () => true,
    (error: unknown) => {
      context.log('warn', 'setMasterSecretHash failed', { error: describe(error) })
      return false
    },
  )
  // Availability waits for a later tick to read the mined hash back (§7.1 step 6).
  throw new TickStop(submitted ? 'awaiting on-chain master secret hash' : 'failed to set master secret hash')
}

/** Step 7: obtain the committed secret from a verified peer, then its data. */
async function joinCluster(context: NodeTickContext, chainHash: Uint8Array, ownWallet: Wallet): Promise<void> {
  const { peers, keys, peerSecrets } = context
  let sawMismatch = false
  let sawAttestationFailure = false
  const others = peers.peers.filter((peer) => peer.wallet !== ownWallet)
  for (const [index, peer] of others.entries()) {
    // A peer whose document fails, or that refuses ours, is skipped: the next may pass (§4.5).
    const candidate = await peerSecrets.requestMasterSecret(peer).catch((error: unknown) => {
      const attestation = isPeerAttestationError(error) || (error instanceof Error && 'refusedAttestation' in error && error.refusedAttestation === true)
      if (attestation) sawAttestationFailure = true
      context.log('warn', attestation ? 'peer attestation failed' : 'master secret request failed', { peer: peer.url, error: describe(error) })
      return undefined
    })
    if (candidate === undefined) continue
    // §7.1 step 7.2 (fix): a secret is installed only after its hash matches the chain's.
    // Records under a replaced secret could no longer be decrypted (§7.1 step 7, SHOULD).
    if (!(await keys.installIfCommitted(candidate, chainHash, peer.url, { beforeReplace: () => context.clearStore() }))) {
      sawMismatch = true
      context.log('warn', 'peer served a secret whose hash differs from the chain', { peer: peer.url })
      continue
    }
    context.log('info', 'installed the master secret from a peer', { peer: peer.url })
    // Data from the same peer first, then any other (§7.1 step 7.4).
    for (const source of [peer, ...others.slice(index + 1), ...others.slice(0, index)]) {
      const pulled = await peerSecrets.pullSnapshot(source).then(
        () => true,
        (error: unknown) => {
          context.log('warn', 'snapshot pull failed', { peer: source.url, error: describe(error) })
          return false
        },
      )
      if (pulled) {
        context.snapshotMerged.value = true
        break
      }
    }
    return
  }
  await awaitRecoveryOr(
    context,
    chainHash,
    sawMismatch ? 'synced master secret hash mismatch' : sawAttestationFailure ? 'peer attestation failed' : 'master secret sync failed',
  )
}

/** Step 8 cold start: one snapshot before first serving, if any other peer answers. */
async function coldStartSnapshot(context: NodeTickContext, ownWallet: Wallet): Promise<void> {
  for (const peer of context.peers.peers) {
    if (peer.wallet === ownWallet) continue
    const pulled = await context.peerSecrets.pullSnapshot(peer).then(
      () => true,
      (error: unknown) => {
        context.log('warn', 'cold-start snapshot pull failed', { peer: peer.url, error: describe(error) })
        return false
      },
    )
    if (pulled) {
      context.snapshotMerged.value = true
      return
    }
  }
}
