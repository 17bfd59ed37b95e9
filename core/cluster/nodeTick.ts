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
  /** `master_secret_request` to `peer` for `epoch` (default 0, §7.7), unsealed: the 32-byte secret. */
  requestMasterSecret(peer: Peer, epoch?: number): Promise<Uint8Array>
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

/** What KMSRegistry says of the live epochs (§7.7, §9.1): the current one, and the one before it. */
export interface ChainEpochView {
  readonly current: number
  readonly epochs: readonly { readonly epoch: number; readonly hash: Uint8Array; readonly retired: boolean }[]
}

/** What `/status` shows of the node's epochs (§2.1 `epochs`), kept up to date by each tick. */
export interface EpochStatus {
  current: number
  /** The epochs the chain says are live: the current one, and the one before it until retired. */
  live: number[]
  /** Epochs whose hash is committed, held and not retired: the ones the node may use. */
  usable: number[]
  /** Live, committed epochs the node could not get from any peer yet. */
  missing: number[]
  /** Epochs this process wiped because they were retired (or their hash changed). */
  wiped: number[]
  /** Set while the node's candidate for the current epoch waits for the chain. */
  awaitingCommit: number | undefined
}

/** Issue 16's collaborators (§7.7); without them the node knows only epoch 0, as before. */
export interface NodeTickEpochs {
  /** `currentEpoch`, `masterSecretHashOf` and `isEpochRetired` for c and c−1, read together. */
  readEpochs(): Promise<ChainEpochView>
  /** Records under an epoch below `epoch` can never be read again once it is wiped. */
  dropRecordsBelowEpoch(epoch: number): void
  /** Once serving on the current epoch c ≥ 1: report the migration when re-encryption is done. */
  afterServing(epoch: number): Promise<void>
  status: EpochStatus
}

export interface NodeTickContext {
  mode: Mode
  tee: Pick<Tee, 'getWallet' | 'randomBytes' | 'getEncryptionPublicKey'>
  random: Random
  sleep: Sleep
  peers: PeerCache
  /** The key ring: the only holder of the secret; the tick installs and compares through it. */
  keys: Pick<
    KeyRing,
    | 'isInstalled'
    | 'hash'
    | 'matches'
    | 'install'
    | 'installIfCommitted'
    | 'heldEpochs'
    | 'holds'
    | 'hashOf'
    | 'matchesEpoch'
    | 'wipe'
    | 'serveOn'
    | 'candidateHash'
    | 'setCandidate'
    | 'promoteCandidate'
    | 'dropCandidate'
  >
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
  epochs?: NodeTickEpochs
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
  const progress = { epochsRead: false }
  try {
    await tick(context, progress)
  } catch (error) {
    if (!(error instanceof TickStop)) throw error
    context.readiness.markUnavailable(error.reason)
    // A tick that stopped before reading the epochs (a node the registry no longer lists, a
    // revoked version) still wipes what the chain has retired: retiring an epoch must take its
    // secret out of every honest node's memory, serving or not (§7.7 item 1).
    if (!progress.epochsRead && context.epochs !== undefined && context.keys.isInstalled) {
      const chain = await readChainEpochs(context).catch(() => undefined)
      if (chain !== undefined) wipeDeadEpochs(context, chain)
    }
  }
}

async function tick(context: NodeTickContext, progress: { epochsRead: boolean }): Promise<void> {
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

  // 5. The chain's commitment(s).
  const chain = await withRetries(() => readChainEpochs(context), sleep).catch((error: unknown) => {
    context.log('warn', 'cannot read master secret hash', { error: describe(error) })
    return undefined
  })
  if (chain === undefined) throw new TickStop('cannot read master secret hash')
  progress.epochsRead = true
  wipeDeadEpochs(context, chain)
  if (chain.current >= 1) return rotatingTick(context, chain, ownWallet)
  const chainHash = chain.epochs[0]!.hash

  if (bytesEqual(chainHash, ZERO_HASH)) await commitSecret(context)
  else if (!keys.matches(chainHash)) await joinCluster(context, chainHash, ownWallet)

  // 8. The hash matches.
  if (!keys.isInstalled) throw new TickStop('master secret not initialized')
  keys.serveOn(0)
  if (context.epochs !== undefined) Object.assign(context.epochs.status, { usable: [0], missing: [], awaitingCommit: undefined })
  context.recovery?.progress.stopAwaiting()
  if (!context.snapshotMerged.value) await coldStartSnapshot(context, ownWallet)
  readiness.markAvailable()
  if (context.recovery !== undefined) await publishBackupIfMissing(context.recovery, chainHash, context.log)
}

/** The live epochs from the chain; a node without issue 16's reader knows only epoch 0. */
async function readChainEpochs(context: NodeTickContext): Promise<ChainEpochView> {
  if (context.epochs !== undefined) {
    const view = await context.epochs.readEpochs()
    if (!view.epochs.some((entry) => entry.epoch === view.current)) throw new Error(`the chain's epoch view lacks the current epoch ${view.current}`)
    return view
  }
  return { current: 0, epochs: [{ epoch: 0, hash: await context.readMasterSecretHash(), retired: false }] }
}

/**
 * §7.7 item 1: a held epoch that is retired, older than the one before the current, or newer
 * than the current (a chain that went back) is wiped at once, with the records under it. A
 * candidate for anything but the current epoch goes too.
 */
function wipeDeadEpochs(context: NodeTickContext, chain: ChainEpochView): void {
  const { keys } = context
  const live = new Set(chain.epochs.filter((entry) => !entry.retired).map((entry) => entry.epoch))
  let wiped = false
  for (const epoch of keys.heldEpochs) {
    if (live.has(epoch)) continue
    keys.wipe(epoch)
    wiped = true
    context.epochs?.status.wiped.push(epoch)
    context.log('info', 'wiped the master secret of a retired epoch', { epoch })
  }
  if (keys.candidateHash(chain.current) === undefined) keys.dropCandidate()
  const oldest = keys.heldEpochs[0]
  if (wiped && oldest !== undefined) context.epochs?.dropRecordsBelowEpoch(oldest)
  if (context.epochs !== undefined) Object.assign(context.epochs.status, { current: chain.current, live: [...live].sort((left, right) => left - right) })
}

/**
 * A tick while the chain is past epoch 0 (§7.7): the current epoch c is committed (by this
 * node's fresh candidate if it is first) and fetched, the previous live epoch is fetched by a
 * node that lacks it, and the node serves on the newest epoch it holds that matches the
 * chain, so a rotation makes no node unavailable.
 */
async function rotatingTick(context: NodeTickContext, chain: ChainEpochView, ownWallet: Wallet): Promise<void> {
  const { keys, readiness } = context
  const current = chain.epochs.find((entry) => entry.epoch === chain.current)!
  const previous = chain.epochs.find((entry) => entry.epoch === chain.current - 1 && !entry.retired)
  let awaitingCommit: number | undefined
  let failure: UnavailableReason | undefined

  if (bytesEqual(current.hash, ZERO_HASH)) {
    awaitingCommit = current.epoch
    await commitEpoch(context, current.epoch)
  } else {
    failure = await obtainEpoch(context, current.epoch, current.hash, ownWallet)
  }
  if (previous !== undefined && !bytesEqual(previous.hash, ZERO_HASH)) await obtainEpoch(context, previous.epoch, previous.hash, ownWallet)

  const usable = [previous, current]
    .filter((entry) => entry !== undefined)
    .filter((entry) => !bytesEqual(entry.hash, ZERO_HASH) && keys.matchesEpoch(entry.epoch, entry.hash))
    .map((entry) => entry.epoch)
  const missing = [previous, current]
    .filter((entry) => entry !== undefined)
    .filter((entry) => !bytesEqual(entry.hash, ZERO_HASH) && !keys.holds(entry.epoch))
    .map((entry) => entry.epoch)
  if (context.epochs !== undefined) Object.assign(context.epochs.status, { usable, missing, awaitingCommit })

  const serving = usable[usable.length - 1]
  if (serving === undefined) {
    const newest = [current, previous].find((entry) => entry !== undefined && !bytesEqual(entry.hash, ZERO_HASH))
    if (newest === undefined) throw new TickStop('awaiting on-chain master secret hash')
    await awaitRecoveryOr(context, newest.hash, failure ?? 'master secret sync failed', newest.epoch)
  }
  keys.serveOn(serving!)
  context.recovery?.progress.stopAwaiting()
  if (!context.snapshotMerged.value) await coldStartSnapshot(context, ownWallet)
  readiness.markAvailable()
  if (serving === current.epoch) {
    if (context.recovery !== undefined) await publishBackupIfMissing(context.recovery, current.hash, context.log)
    await context.epochs?.afterServing(current.epoch)
  }
}

/**
 * §7.7 item 2: the current epoch's hash is zero. A node holding that epoch (an owner reset)
 * commits it again; otherwise it commits its candidate, fresh bytes drawn the first time. A
 * failed submission is logged and tried again next tick: the node keeps serving meanwhile.
 */
async function commitEpoch(context: NodeTickContext, epoch: number): Promise<void> {
  const { keys, tee, sleep, mode, random } = context
  let hash = keys.hashOf(epoch) ?? keys.candidateHash(epoch)
  if (hash === undefined) {
    const fromHelper = await withRetries(() => tee.randomBytes(), sleep).catch((error: unknown) => {
      context.log('warn', 'cannot get random bytes from the helper', { error: describe(error) })
      return undefined
    })
    const bytes = fromHelper ?? (mode === 'dev' ? random.bytes(32) : undefined)
    if (bytes === undefined || bytes.length < 32) {
      context.log('warn', 'cannot draw a secret for the new epoch', { epoch })
      return
    }
    hash = keys.setCandidate(epoch, bytes.slice(0, 32))
    bytes.fill(0)
    context.log('info', 'generated a candidate master secret for a new epoch', { epoch })
  }
  // One attempt, not ⟳: once another node has committed, every retry would fail the same way
  // and only hold this tick (and the fetch of the winner's secret) back by the backoff.
  await context.submitMasterSecretHash(hash).then(
    () => context.log('info', 'submitted the master secret hash of a new epoch', { epoch }),
    (error: unknown) => context.log('warn', 'setMasterSecretHash failed for a new epoch', { epoch, error: describe(error) }),
  )
}

/**
 * §7.7 items 3–4: makes the node hold `epoch`'s committed secret: its own candidate if that
 * won, else a verified peer's (§7.1 step 7 for that epoch, secret only: the data is already
 * here or comes with the cold-start snapshot).
 * @returns the §7.1 step 7 reason when no peer had it, `undefined` when it is held.
 */
async function obtainEpoch(context: NodeTickContext, epoch: number, chainHash: Uint8Array, ownWallet: Wallet): Promise<UnavailableReason | undefined> {
  const { keys, peers, peerSecrets } = context
  if (keys.matchesEpoch(epoch, chainHash)) return undefined
  if (keys.holds(epoch)) {
    // An owner reset, then another node's commit: what this node held under it is unreadable.
    keys.wipe(epoch)
    context.clearStore()
    context.epochs?.status.wiped.push(epoch)
    context.log('warn', 'the chain committed another secret for a held epoch; wiped it and the store', { epoch })
  }
  if (await keys.promoteCandidate(epoch, chainHash)) {
    context.log('info', 'the chain committed this node\'s secret for a new epoch', { epoch })
    return undefined
  }
  if (keys.candidateHash(epoch) !== undefined) keys.dropCandidate()
  let sawMismatch = false
  let sawAttestationFailure = false
  for (const peer of peers.peers) {
    if (peer.wallet === ownWallet) continue
    const candidate = await peerSecrets.requestMasterSecret(peer, epoch).catch((error: unknown) => {
      const attestation = isPeerAttestationError(error) || (error instanceof Error && 'refusedAttestation' in error && error.refusedAttestation === true)
      if (attestation) sawAttestationFailure = true
      context.log('warn', attestation ? 'peer attestation failed' : 'master secret request failed', { peer: peer.url, epoch, error: describe(error) })
      return undefined
    })
    if (candidate === undefined) continue
    const installed = await keys.installIfCommitted(candidate, chainHash, peer.url, { epoch })
    candidate.fill(0)
    if (installed) {
      context.log('info', 'installed the master secret of an epoch from a peer', { peer: peer.url, epoch })
      return undefined
    }
    sawMismatch = true
    context.log('warn', 'peer served a secret whose hash differs from the chain', { peer: peer.url, epoch })
  }
  return sawMismatch ? 'synced master secret hash mismatch' : sawAttestationFailure ? 'peer attestation failed' : 'master secret sync failed'
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
async function awaitRecoveryOr(context: NodeTickContext, chainHash: Uint8Array, fallback: UnavailableReason, epoch = 0): Promise<never> {
  const recovery = context.recovery
  if (recovery === undefined) throw new TickStop(fallback)
  let reason: UnavailableReason = fallback
  try {
    const policy = await recovery.reader.activeRecoveryPolicy()
    const backup = policy === undefined ? undefined : await recovery.reader.backup(chainHash, policy.policyId)
    if (policy === undefined || backup === undefined) {
      recovery.progress.stopAwaiting()
    } else {
      const { collector } = recovery.progress.await(chainHash, policy, backup, epoch)
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
