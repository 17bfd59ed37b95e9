/**
 * `KmsNode`: the wiring of one node, created once per isolate or process (DESIGN §2, §3). It
 * builds the collaborators from the configuration and holds them; it has no logic of its
 * own. Each function takes a narrow view of it (a `Pick` of the fields it uses), as viem's
 * actions take a client.
 *
 * @module
 */
import { awsNitroRootG1Der, loadTrustedRoot } from './attestation'
import { AuditLog } from './audit'
import { NonceStore, RateLimiter, RequestAdmission } from './auth'
import type { PeerAttestationPolicy } from './auth/verifyPeerAttestation'
import { getChainId } from 'viem/actions'
import {
  FOUND_TTL_CAP_SECONDS,
  NODE_REFRESH_AHEAD_SECONDS,
  REVOCATION_BOUND_SECONDS,
  createCachedRegistry,
  countReadFailures,
  createChainReaders,
  createKmsEpochReader,
  createKmsRecoveryReader,
  type CachedRegistry,
  type KmsEpochReader,
  type ChainReaders,
  type KmsRecoveryReader,
} from './chain'
import { createRpcClient } from './chain/_rpcClient'
import { createTransactionClient } from './chain/_transactionClient'
import { ReadThroughCache } from './chain/_readThroughCache'
import { RecoveryProgress } from './recovery'
import { PeerCache, PeerWatermarks, Readiness, SyncClient, TickSchedule, type EpochStatus, type Sleep } from './cluster'
import { readConfig, type ConfigEnvironment, type NodeConfig } from './config'
import { inlineSignatureWork, type SignatureWork } from './crypto'
import type { Wallet } from './encoding'
import { KeyRing } from './keys'
import { createLogger, type LogLevel, type LogWriter, type Logger } from './log'
import { Metrics, type RegistryName } from './metrics'
import type { Clock, Random } from './runtime'
import { createAppValues, KvStore, type AppValues } from './store'
import { createLocalTee, createOdynTee, devRootCertificateDer, issueDevAttestation, type Tee } from './tee'

/** What the runtime (bundle/ or functions/) provides. */
export interface KmsNodeRuntime {
  env: ConfigEnvironment
  clock: Clock
  random: Random
  sleep: Sleep
  fetch: typeof fetch
  /** Where log lines go; the node filters them by `LOG_LEVEL` first. */
  writeLog: LogWriter
  /** The package version, for `/status`. */
  version: string
  /**
   * The test build (`dist/kms-test.mjs`, esbuild.config.ts): enclave mode trusts the dev
   * attestation root instead of AWS's, so an enclave-mode cluster runs on a machine without
   * Nitro, and it refuses to serve where its own document chains to AWS. Fixed at compile
   * time, never by a variable; `dist/kms.mjs` and the image never have it.
   */
  testBuild?: boolean
  /**
   * Whether work may outlive the request that started it (true in Node, false in workerd).
   * With it, registry entries in use are reloaded ahead of their expiry in the background
   * (`createCachedRegistry`'s refresh ahead), so no request waits on the chain for them.
   */
  backgroundWork?: boolean
  /** Where secp256k1 recovery and signing run (worker threads under Node); inline by default. */
  signatures?: SignatureWork
}

export type { LogLevel, Logger }

/** The limiters of PROTOCOL §12.2. */
export interface NodeLimiters {
  global: RateLimiter
  nonce: RateLimiter
  app: RateLimiter
  /** One bucket for the whole node: nonces issued faster than the store holds them would evict live ones. */
  nodeNonce: RateLimiter
}

export class KmsNode {
  readonly config: NodeConfig
  readonly clock: Clock
  readonly random: Random
  readonly sleep: Sleep
  readonly fetch: typeof fetch
  readonly version: string
  readonly log: Logger
  readonly tee: Tee
  /** PoP recovery's and the stand-in's signing's thread(s) ({@link KmsNodeRuntime.signatures}). */
  readonly signatures: SignatureWork
  readonly chain: ChainReaders
  /** KMSRegistry's recovery views (§7.6), read uncached: every decision needs the chain's now. */
  readonly recoveryReader: KmsRecoveryReader
  /** Awaiting-recovery collector and backup-publishing memory (§7.6). */
  readonly recovery = new RecoveryProgress()
  /** KMSRegistry's epoch views (§7.7, §9.1), read uncached by `node_tick`. */
  readonly epochReader: KmsEpochReader
  /** What the latest `node_tick` learnt of the epochs, for routes and `/status` (§7.7). */
  readonly epochStatus: EpochStatus = { current: 0, live: [], usable: [], missing: [], wiped: [], awaitingCommit: undefined }
  /** The migration report (§7.7): the epoch last reported, and the tick count of the last attempt. */
  readonly migrationReport: { reported: number | undefined; reportedKey: string | undefined; attemptedAtTick: number | undefined; ticks: number } = {
    reported: undefined,
    reportedKey: undefined,
    attemptedAtTick: undefined,
    ticks: 0,
  }
  readonly #appKeyEpochs: ReadThroughCache<number>
  #chainId: Promise<number> | undefined
  /** viem's client, for `eth_chainId`; the readers use `core/chain`'s own lean RPC client. */
  readonly #rpcClient: ReturnType<typeof createTransactionClient>
  /** NovaAppRegistry through the read-through cache (§3.3). */
  readonly registry: CachedRegistry
  readonly nonces: NonceStore
  readonly limiters: NodeLimiters
  /** Requests in progress and body bytes buffered, over all callers (§12.3). */
  readonly admission: RequestAdmission
  /** The only holder of the master secret and of every key derived from it. */
  readonly keys: KeyRing
  readonly store: KvStore
  /** Plaintext put/get over the store, with the key ring's data keys. */
  readonly appValues: AppValues
  readonly readiness = new Readiness()
  readonly peers: PeerCache
  readonly metrics = new Metrics()
  /** The per-app key-release chains and the cluster chain (§14), in memory, per boot. */
  readonly audit: AuditLog
  /** The attestation root apps and peers are verified against; `undefined` means the AWS pin. */
  readonly trustedAttestationRoot: Uint8Array | undefined
  /** True in the test build only ({@link KmsNodeRuntime.testBuild}). */
  readonly testBuild: boolean
  /** Learnt on the first tick (wallet) and from the registry (URL). */
  readonly identity: { wallet: Wallet | undefined; instanceUrl: string }
  readonly snapshotMerged = { value: false }
  /** The test build in enclave mode: its own document was seen to chain to the dev root (§7.1 step 1). */
  readonly ownAttestationDevRooted = { value: false }
  readonly syncClient: SyncClient
  readonly watermarks = new PeerWatermarks()
  readonly ticks: TickSchedule

  private constructor(runtime: KmsNodeRuntime, config: NodeConfig, tee: Tee, trustedRoot: Uint8Array | undefined) {
    const { clock, random } = runtime
    this.config = config
    this.clock = clock
    this.random = random
    this.sleep = runtime.sleep
    this.fetch = runtime.fetch
    this.version = runtime.version
    this.log = createLogger(config.logLevel, runtime.writeLog)
    this.tee = tee
    this.signatures = runtime.signatures ?? inlineSignatureWork
    this.trustedAttestationRoot = trustedRoot
    this.testBuild = runtime.testBuild === true
    this.identity = { wallet: undefined, instanceUrl: config.nodeInstanceUrl }
    // Every registry read is counted when it fails (§2.8), wherever it is made from.
    const failedReadOf = (registry: RegistryName) => (): void => this.metrics.recordRegistryReadFailure(registry)
    const chain = createChainReaders({
      rpcUrl: config.chainRpcUrl,
      novaAppRegistry: config.novaAppRegistryAddress,
      kmsRegistry: config.kmsRegistryAddress,
      fetch: runtime.fetch,
    })
    this.chain = {
      novaAppRegistry: countReadFailures(chain.novaAppRegistry, failedReadOf('nova_app_registry')),
      kmsRegistry: countReadFailures(chain.kmsRegistry, failedReadOf('kms_registry')),
    }
    this.#rpcClient = createTransactionClient({ rpcUrl: config.chainRpcUrl, fetch: runtime.fetch })
    const rpc = createRpcClient({ rpcUrl: config.chainRpcUrl, fetch: runtime.fetch })
    this.recoveryReader = countReadFailures(
      createKmsRecoveryReader({ rpc, address: config.kmsRegistryAddress }),
      failedReadOf('kms_registry'),
    )
    this.epochReader = countReadFailures(createKmsEpochReader({ rpc, address: config.kmsRegistryAddress }), failedReadOf('kms_registry'))
    // Cached exactly like the registry's records (§3.3): an app owner's bump reaches every
    // derive within FOUND_TTL_CAP_SECONDS, and an unreadable chain is trusted no longer than
    // REVOCATION_BOUND_SECONDS, after which derives fail closed.
    this.#appKeyEpochs = new ReadThroughCache<number>(clock, {
      maxEntries: 4096,
      maxAgeMs: REVOCATION_BOUND_SECONDS * 1000,
      refreshAheadMs: runtime.backgroundWork === true ? Math.min(NODE_REFRESH_AHEAD_SECONDS, Math.min(config.registryCacheTtlSeconds, FOUND_TTL_CAP_SECONDS) / 2) * 1000 : 0,
    })
    this.registry = createCachedRegistry(this.chain.novaAppRegistry, {
      clock,
      ttlSeconds: config.registryCacheTtlSeconds,
      refreshAheadSeconds:
        runtime.backgroundWork === true ? Math.min(NODE_REFRESH_AHEAD_SECONDS, Math.min(config.registryCacheTtlSeconds, FOUND_TTL_CAP_SECONDS) / 2) : 0,
    })
    this.nonces = new NonceStore({ clock, random, ttlSeconds: config.popTimeoutSeconds, capacity: config.maxNonces })
    const limiter = (ratePerMinute: number): RateLimiter => new RateLimiter({ clock, ratePerMinute, maxBuckets: config.maxRateBuckets })
    this.limiters = {
      global: limiter(config.rateLimitPerMinute),
      nonce: limiter(config.nonceRateLimitPerMinute),
      app: limiter(config.appRateLimitPerMinute),
      nodeNonce: limiter(config.nodeNonceRateLimitPerMinute),
    }
    this.admission = new RequestAdmission({ maxConcurrentRequests: config.maxConcurrentRequests, maxInflightBodyBytes: config.maxInflightBodyBytes })
    this.keys = new KeyRing({ kmsAppId: config.kmsAppId })
    this.audit = new AuditLog({ clock, random })
    this.store = new KvStore({
      clock,
      nodeWallet: () => this.identity.wallet,
      limits: {
        maxAppStorageBytes: config.maxAppStorageBytes,
        maxValueSizeBytes: config.maxKvValueSizeBytes,
        tombstoneRetentionMs: config.tombstoneRetentionMs,
        maxTombstonesPerApp: config.maxTombstonesPerApp,
        maxClockSkewMs: config.maxClockSkewMs,
        maxRecordsPerApp: config.maxRecordsPerApp,
      },
    })
    this.appValues = createAppValues({ store: this.store, cipher: this.keys, random })
    this.ticks = new TickSchedule(clock, config)
    this.syncClient = new SyncClient({
      fetch: runtime.fetch,
      tee,
      clock,
      random,
      ownWallet: () => this.identity.wallet,
      signSyncBody: (envelope, nonce) => this.keys.signSyncBody(envelope, nonce),
      peerAttestation: {
        policy: () => this.peerAttestationPolicy(),
        onResult: (verified, result) => this.metrics.recordPeerAttestation(verified, result),
      },
      minSyncVersion: config.minSyncVersion,
      maxSyncPayloadBytes: config.maxSyncPayloadBytes,
      peerWallets: () => this.peers.peers.map((peer) => peer.wallet),
      store: this.store,
      canDecrypt: this.keys.canDecrypt,
    })
    this.peers = new PeerCache({
      registry: this.chain.novaAppRegistry,
      kmsAppId: config.kmsAppId,
      mode: config.mode,
      clock,
      ttlSeconds: config.peerCacheTtlSeconds,
    })
  }

  /**
   * Reads the configuration and builds the node. Nothing here reaches the network: the
   * first tick does.
   * @throws KmsError `internal_error` naming an invalid or forbidden variable (§11).
   */
  static async create(runtime: KmsNodeRuntime): Promise<KmsNode> {
    const config = readConfig(runtime.env)
    // Enclave mode trusts only the embedded AWS root, checked against its pin here, at node
    // creation (§3.2.3), except in the test build, which trusts the dev root instead; dev
    // mode trusts NITRO_ROOT_CERT_PEM or the dev root.
    const testBuild = runtime.testBuild === true
    if (config.mode === 'enclave' && !testBuild) awsNitroRootG1Der()
    const trustedRoot =
      config.mode === 'enclave' ? (testBuild ? devRootCertificateDer() : undefined) : (loadTrustedRoot(config.nitroRootCertPem) ?? devRootCertificateDer())
    const tee: Tee =
      config.mode === 'enclave'
        ? createOdynTee({ baseUrl: config.odynUrl, fetch: runtime.fetch })
        : await createLocalTee({
            ...(config.nodePrivateKey === undefined ? {} : { walletPrivateKey: config.nodePrivateKey }),
            ...(config.nodeEncryptionKey === undefined ? {} : { encryptionPrivateKey: config.nodeEncryptionKey }),
            random: runtime.random,
            ...(runtime.signatures === undefined ? {} : { signatures: runtime.signatures }),
            issueAttestation: (params) => issueDevAttestation({ ...params, nowMs: runtime.clock.nowMs(), random: runtime.random }),
          })
    const node = new KmsNode(runtime, config, tee, trustedRoot)
    // The stand-in knows its wallet without I/O; in enclave mode the first tick reads it (§7.1 step 1).
    if (config.mode === 'dev') node.identity.wallet = await tee.getWallet()
    if (config.masterSecret !== undefined) await node.keys.install(config.masterSecret, 'generated')
    return node
  }

  /**
   * How peer documents are verified now (PROTOCOL §4.5): this node's trust root, the
   * attestation age bound, and debug PCRs only in dev mode (the test build refuses them too).
   */
  peerAttestationPolicy(): PeerAttestationPolicy {
    return {
      at: this.clock.nowMs(),
      maxAgeMs: this.config.attestationMaxAgeSeconds * 1000,
      trustedRoot: this.trustedAttestationRoot,
      allowDebugMode: this.config.mode === 'dev',
    }
  }

  /**
   * The chain id (`eth_chainId`), read once and remembered; a failed read is retried next
   * time. Sealed shares bind it (§7.6).
   */
  chainId(): Promise<number> {
    if (this.#chainId === undefined) {
      const read = getChainId(this.#rpcClient)
      read.catch(() => {
        if (this.#chainId === read) this.#chainId = undefined
      })
      this.#chainId = read
    }
    return this.#chainId
  }

  /**
   * `appKeyEpoch(appId)` on KMSRegistry (§9.1), cached for the registry cache's lifetime.
   * @throws KmsError 503 `registry_unavailable` when the chain cannot be read.
   */
  appKeyEpoch(appId: number): Promise<number> {
    const ttlMs = Math.min(this.config.registryCacheTtlSeconds, FOUND_TTL_CAP_SECONDS) * 1000
    return this.#appKeyEpochs.read(String(appId), () => this.epochReader.appKeyEpoch(appId), () => ttlMs)
  }

  /** The node's wallet, once the first tick has read it. */
  get wallet(): Wallet | undefined {
    return this.identity.wallet
  }
}
